# Runs Doxygen for the `docs` target (docs/CMakeLists.txt) on a clean site:
# every page of the previous build is removed first, so that a page or a link
# that no longer exists cannot survive in html/ (MathJax, copied there once,
# stays). Warnings fail the build (WARN_AS_ERROR in the Doxyfile). Then
# site_postprocess.py finishes the pages (diagrams that scale, tables of contents,
# the search index).
#
#   cmake -DDOXYGEN=doxygen -DDOXYFILE=Doxyfile -DHTML_DIR=html -DPYTHON=python3
#         -DPOSTPROCESS=site_postprocess.py -P run_doxygen.cmake
foreach(variable IN ITEMS DOXYGEN DOXYFILE HTML_DIR PYTHON POSTPROCESS)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "run_doxygen.cmake: -D${variable}=... is required")
  endif()
endforeach()
file(GLOB previous_build LIST_DIRECTORIES true "${HTML_DIR}/*")
list(FILTER previous_build EXCLUDE REGEX "/mathjax$")
if(previous_build)
  file(REMOVE_RECURSE ${previous_build})
endif()
execute_process(COMMAND "${DOXYGEN}" "${DOXYFILE}" RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "Doxygen failed (${status}); every warning above is an error.")
endif()
execute_process(COMMAND "${PYTHON}" "${POSTPROCESS}" "${HTML_DIR}" RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "site_postprocess.py failed (${status})")
endif()

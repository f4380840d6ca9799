# Runs one lesson example for the website (docs/CMakeLists.txt): its standard
# output becomes the text the lesson page shows, and with MHA_FIGURES_DIR set
# it draws its attention heatmaps there as SVG files.
#
#   cmake -DEXAMPLE=path/to/lesson01-example -DOUTPUT=example-output/lesson01.txt
#         -DFIGURES_DIR=figures -P run_example.cmake
#
# A failing example fails the documentation build: a page never shows the
# output of a run that went wrong.
foreach(variable IN ITEMS EXAMPLE OUTPUT FIGURES_DIR)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "run_example.cmake: -D${variable}=... is required")
  endif()
endforeach()
get_filename_component(output_dir "${OUTPUT}" DIRECTORY)
file(MAKE_DIRECTORY "${output_dir}" "${FIGURES_DIR}")
set(ENV{MHA_FIGURES_DIR} "${FIGURES_DIR}")
execute_process(COMMAND "${EXAMPLE}"
                OUTPUT_FILE "${OUTPUT}.partial"
                ERROR_VARIABLE errors
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  file(REMOVE "${OUTPUT}.partial")
  message(FATAL_ERROR "${EXAMPLE} failed (${status}):\n${errors}")
endif()
file(RENAME "${OUTPUT}.partial" "${OUTPUT}")

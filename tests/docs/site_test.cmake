# The documentation site test (ctest -L docs), registered by tests/CMakeLists.txt:
#
#   1. builds the site: cmake --build BINARY_DIR --target docs (Doxygen warnings are errors);
#   2. installs playwright-core, exactly as tests/docs/package-lock.json pins it, with
#      `npm ci` into WORK_DIR (in the build folder; again only when the lock file changed);
#   3. runs tests/docs/check_site.js, which opens the pages in Debian's headless
#      Chromium and saves screenshots in BINARY_DIR/docs/screenshots.
#
#   cmake -DBINARY_DIR=build/default -DSOURCE_DIR=. -DWORK_DIR=build/default/tests/docs
#         -DNODE=/usr/bin/node -DNPM=/usr/bin/npm -DCHROMIUM=/usr/bin/chromium -P site_test.cmake
foreach(variable IN ITEMS BINARY_DIR SOURCE_DIR WORK_DIR NODE NPM CHROMIUM)
  if(NOT DEFINED ${variable})
    message(FATAL_ERROR "site_test.cmake: -D${variable}=... is required")
  endif()
endforeach()
foreach(program IN ITEMS NODE NPM CHROMIUM)
  if(NOT EXISTS "${${program}}")
    message(FATAL_ERROR "The site test needs ${program} (${${program}} not found): run "
                        "./scripts/install-dependencies.sh, which installs chromium, nodejs and npm.")
  endif()
endforeach()

message(STATUS "Building the site: cmake --build ${BINARY_DIR} --target docs")
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${BINARY_DIR}" --target docs RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "The site did not build (a Doxygen warning is an error): see above.")
endif()

set(lock "${SOURCE_DIR}/tests/docs/package-lock.json")
file(SHA256 "${lock}" wanted)
set(installed_stamp "${WORK_DIR}/node_modules/.mha-lock-sha256")
set(installed "")
if(EXISTS "${installed_stamp}")
  file(READ "${installed_stamp}" installed)
endif()
if(NOT installed STREQUAL wanted OR NOT EXISTS "${WORK_DIR}/node_modules/playwright-core/package.json")
  message(STATUS "Installing playwright-core with npm ci into ${WORK_DIR}")
  file(MAKE_DIRECTORY "${WORK_DIR}")
  file(COPY "${SOURCE_DIR}/tests/docs/package.json" "${lock}" DESTINATION "${WORK_DIR}")
  execute_process(COMMAND "${NPM}" ci --ignore-scripts --no-audit --no-fund
                  WORKING_DIRECTORY "${WORK_DIR}" RESULT_VARIABLE status)
  if(NOT status EQUAL 0)
    message(FATAL_ERROR "npm ci failed in ${WORK_DIR}")
  endif()
  file(WRITE "${installed_stamp}" "${wanted}")
endif()

set(ENV{NODE_PATH} "${WORK_DIR}/node_modules")
execute_process(COMMAND "${NODE}" "${SOURCE_DIR}/tests/docs/check_site.js" "${BINARY_DIR}/docs/html"
                        "${BINARY_DIR}/docs/screenshots" "${SOURCE_DIR}" "${CHROMIUM}"
                RESULT_VARIABLE status)
if(NOT status EQUAL 0)
  message(FATAL_ERROR "The site check failed: see the pages above, and the screenshots in "
                      "${BINARY_DIR}/docs/screenshots")
endif()

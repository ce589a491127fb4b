# tests/fuzz/fuzz.cmake: the libFuzzer targets (MTPOOL_FUZZ=ON, clang only).
#
# Every tests/fuzz/fuzz_<name>.c becomes an executable fuzz/fuzz_<name>
# (defining LLVMFuzzerTestOneInput), so a new target is one new file: its
# committed seed corpus lives in tests/fuzz/corpus/<name>/ and an optional
# dictionary in tests/fuzz/<name>.dict; tests/run.sh runs each one for a
# bounded time. The targets link the pool and the redis library rebuilt
# with coverage instrumentation (-fsanitize=fuzzer-no-link) and ASan and
# UBSan, so libFuzzer sees the code under test and every report aborts.
# The redis internal headers are reachable as in the test tier.
if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
	message(FATAL_ERROR "MTPOOL_FUZZ needs clang (libFuzzer): "
		"configure with -DCMAKE_C_COMPILER=clang")
endif()
if(MTPOOL_TSAN)
	message(FATAL_ERROR "MTPOOL_FUZZ uses AddressSanitizer: it cannot "
		"be combined with MTPOOL_TSAN")
endif()
if(NOT MTPOOL_HAVE_REDIS)
	message(FATAL_ERROR "MTPOOL_FUZZ needs the redis library "
		"(MTPOOL_BUILD_REDIS, hiredis and liburiparser)")
endif()

set(MTPOOL_FUZZ_FLAGS -fsanitize=address,undefined
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)

add_library(mtpool_fuzz_pool STATIC ${MTPOOL_SOURCES})
mtpool_configure_library(mtpool_fuzz_pool PUBLIC)
add_library(mtpool_fuzz_redis STATIC ${MTPOOL_REDIS_SOURCES})
mtpool_configure_redis(mtpool_fuzz_redis PUBLIC mtpool_fuzz_pool)
foreach(lib mtpool_fuzz_pool mtpool_fuzz_redis)
	target_compile_options(${lib} PRIVATE -fsanitize=fuzzer-no-link
			       ${MTPOOL_FUZZ_FLAGS})
endforeach()

file(GLOB mtpool_fuzz_sources CONFIGURE_DEPENDS
     ${PROJECT_SOURCE_DIR}/tests/fuzz/fuzz_*.c)
list(SORT mtpool_fuzz_sources)
foreach(src IN LISTS mtpool_fuzz_sources)
	get_filename_component(name ${src} NAME_WE)
	add_executable(${name} ${src})
	target_link_libraries(${name} PRIVATE mtpool_fuzz_redis)
	target_compile_options(${name} PRIVATE -fsanitize=fuzzer
			       ${MTPOOL_FUZZ_FLAGS} ${MTPOOL_WARNING_FLAGS})
	target_link_options(${name} PRIVATE -fsanitize=fuzzer
			    ${MTPOOL_FUZZ_FLAGS})
	set_target_properties(${name} PROPERTIES
		RUNTIME_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/fuzz)
endforeach()

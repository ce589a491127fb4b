# The other runtimes mtbench can compare mtpool with, one option each.
#
# Included from the top-level CMakeLists.txt once the mtbench target exists.
# Each option defaults ON when its package is found and OFF otherwise, so a
# machine with only the core packages (CI) builds mtbench with mtpool alone.
# Turning an option ON without its package is an error, not a silent skip.
# An enabled runtime adds its adapter bench/rt_<name>.c(pp) to mtbench and
# defines MTBENCH_HAVE_<NAME>, which registers it in mtbench.c.

find_package(OpenMP COMPONENTS C QUIET)
pkg_check_modules(MTBENCH_TBB QUIET IMPORTED_TARGET tbb)
pkg_check_modules(MTBENCH_GLIB QUIET IMPORTED_TARGET glib-2.0)
pkg_check_modules(MTBENCH_UV QUIET IMPORTED_TARGET libuv)

option(MTPOOL_BENCH_OPENMP "mtbench: compare with OpenMP" ${OpenMP_C_FOUND})
option(MTPOOL_BENCH_TBB "mtbench: compare with oneTBB (C++)" ${MTBENCH_TBB_FOUND})
option(MTPOOL_BENCH_GLIB "mtbench: compare with GLib GThreadPool"
       ${MTBENCH_GLIB_FOUND})
option(MTPOOL_BENCH_UV "mtbench: compare with libuv's work queue"
       ${MTBENCH_UV_FOUND})

# mtbench_runtime(NAME SOURCE FOUND TARGET): adds one adapter.
function(mtbench_runtime name source found target)
	string(TOUPPER ${name} upper)
	if(NOT found)
		message(FATAL_ERROR "MTPOOL_BENCH_${upper} is ON but ${name} "
			"was not found: install it or set the option OFF.")
	endif()
	target_sources(mtbench PRIVATE ${PROJECT_SOURCE_DIR}/bench/${source})
	target_link_libraries(mtbench PRIVATE ${target})
	target_compile_definitions(mtbench PRIVATE MTBENCH_HAVE_${upper}=1)
	message(STATUS "mtbench: comparing with ${name}")
endfunction()

if(MTPOOL_BENCH_OPENMP)
	mtbench_runtime(openmp rt_openmp.c "${OpenMP_C_FOUND}" OpenMP::OpenMP_C)
endif()
if(MTPOOL_BENCH_TBB)
	# C++ only here: a build without oneTBB never needs a C++ compiler.
	enable_language(CXX)
	mtbench_runtime(tbb rt_tbb.cpp "${MTBENCH_TBB_FOUND}" PkgConfig::MTBENCH_TBB)
	# C++20 for designated initializers, the same table syntax as C.
	set_target_properties(mtbench PROPERTIES CXX_STANDARD 20
		CXX_STANDARD_REQUIRED ON)
endif()
if(MTPOOL_BENCH_GLIB)
	mtbench_runtime(glib rt_glib.c "${MTBENCH_GLIB_FOUND}" PkgConfig::MTBENCH_GLIB)
endif()
if(MTPOOL_BENCH_UV)
	mtbench_runtime(uv rt_uv.c "${MTBENCH_UV_FOUND}" PkgConfig::MTBENCH_UV)
endif()

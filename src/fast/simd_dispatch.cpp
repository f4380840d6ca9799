// Lesson 5: choosing the kernels at run time. This file is compiled without
// any SIMD flag: it only asks the CPU what it has and hands out a table.
//
// Which tables exist depends on the build (CMake option MHA_SIMD, which sets
// MHA_WITH_AVX512 and MHA_WITH_AVX2): auto builds AVX-512, AVX2 and scalar,
// avx2 builds AVX2 and scalar, scalar builds only the plain loops.
#include "fast/simd_dispatch.hpp"

#include <cstdlib>
#include <string>


#if MHA_WITH_AVX512 || MHA_WITH_AVX2
#include <xsimd/xsimd.hpp>
#endif

namespace mha {
namespace {

#if MHA_WITH_AVX512 || MHA_WITH_AVX2

// The instruction sets we compiled kernels for, best first, as xsimd::dispatch wants them.
#if MHA_WITH_AVX512
using compiled_instruction_sets = xsimd::arch_list<xsimd::avx512f, xsimd::fma3<xsimd::avx2>>;
#else
using compiled_instruction_sets = xsimd::arch_list<xsimd::fma3<xsimd::avx2>>;
#endif

// One overload per instruction set: its table.
#if MHA_WITH_AVX512
const SimdKernels* table_for(xsimd::avx512f) { return &avx512_kernel_table(); }
#endif
const SimdKernels* table_for(xsimd::fma3<xsimd::avx2>) { return &avx2_kernel_table(); }

// xsimd::dispatch calls this with an object of the best instruction set of the
// list that the CPU supports; overload resolution on its type does the rest.
struct ChooseTable {
    template <class Arch>
    const SimdKernels* operator()(Arch instruction_set) const noexcept {
        return table_for(instruction_set);
    }
};

#endif

// The best table for this CPU: xsimd::dispatch picks among the SIMD ones.
const SimdKernels* best_table() {
#if MHA_WITH_AVX512 || MHA_WITH_AVX2
    const auto cpu = xsimd::available_architectures();  // what CPUID says, read once by xsimd
    if (!cpu.fma3_avx2) {
        return &scalar_kernel_table();  // below every instruction set we compiled: nothing to dispatch to
    }
#if MHA_WITH_AVX512
    // xsimd's avx512f needs only AVX-512 F, but our AVX-512 file is also
    // compiled with DQ, BW and VL (and xsimd's own avx512f hadd uses a DQ
    // instruction). Every AVX-512 CPU since 2017 has them; the first Xeon Phi
    // did not, so there we stay with AVX2.
    if (cpu.avx512f && !(cpu.avx512dq && cpu.avx512bw)) {
        return &avx2_kernel_table();
    }
#endif
    // The first instruction set of the list that the CPU supports wins.
    return xsimd::dispatch<compiled_instruction_sets>(ChooseTable{})();
#else
    return &scalar_kernel_table();  // MHA_SIMD=scalar: no SIMD kernels were compiled
#endif
}

// Every table this CPU can run, best first: the best one and those below it.
std::vector<const SimdKernels*> runnable_tables() {
    std::vector<const SimdKernels*> tables = {best_table()};
#if MHA_WITH_AVX512
    if (tables.back() == &avx512_kernel_table()) {
        tables.push_back(&avx2_kernel_table());
    }
#endif
    if (tables.back() != &scalar_kernel_table()) {
        tables.push_back(&scalar_kernel_table());
    }
    return tables;
}

const SimdKernels& choose_kernels() {
    const std::vector<const SimdKernels*> tables = runnable_tables();
    // MHA_SIMD=avx2 (or scalar, or avx512) in the environment picks a lesser
    // table on purpose, to compare them; an unknown or unavailable name is ignored.
    if (const char* wanted = std::getenv("MHA_SIMD")) {
        for (const SimdKernels* table : tables) {
            if (std::string(table->instruction_set).rfind(wanted, 0) == 0) {
                return *table;
            }
        }
    }
    return *tables.front();
}

}  // namespace

const SimdKernels& simd_kernels() {
    static const SimdKernels& chosen = choose_kernels();  // decided once, on the first call
    return chosen;
}

std::vector<const SimdKernels*> available_simd_kernels() { return runnable_tables(); }

std::string simd_instruction_set() { return simd_kernels().instruction_set; }

}  // namespace mha

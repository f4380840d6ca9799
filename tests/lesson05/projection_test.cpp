// Lesson 5 tests: the pieces every version shares besides the kernels: the
// projections as runs of rows, and the flop count the benchmarks divide by.
#include <cstddef>
#include <cstdint>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "fast/flop_count.hpp"
#include "fast/float_parameters.hpp"
#include "fast/projection.hpp"
#include "fast/workspace.hpp"

namespace {

TEST(FlopCount, MatchesTheFormulaWorkedByHand) {
    // B = 2, L = 3, E = 4: projections 8·3·16 = 384, Q Kᵀ and P V 4·9·4 = 144, per entry; twice.
    EXPECT_EQ(mha::attention_flops(2, 3, 4), 1056.0);
    // L = 512, E = 512: 8·512·512² + 4·512²·512 = 1,073,741,824 + 536,870,912.
    EXPECT_EQ(mha::attention_flops(1, 512, 512), 1610612736.0);
    EXPECT_EQ(mha::attention_flops(0, 512, 512), 0.0);
}

// Every row of the product exactly once, in order, each run starting on a sliver.
void expect_runs_cover(const std::vector<mha::ProjectionRun>& runs, std::size_t rows, std::size_t mr) {
    std::size_t next = 0;
    for (const mha::ProjectionRun& run : runs) {
        EXPECT_EQ(run.first, next);
        EXPECT_EQ(run.first % mr, 0u);
        EXPECT_GT(run.rows, 0u);
        next = run.first + run.rows;
    }
    EXPECT_EQ(next, rows);
}

TEST(ProjectionRuns, CoverEveryRowOnceInWholeSlivers) {
    const mha::FloatLinear layer;  // the runs only point at it
    float x = 0.0f, y = 0.0f;
    for (const std::size_t rows : {0, 1, 13, 14, 15, 100, 1000}) {
        for (const std::size_t parts : {1, 2, 4, 7}) {
            SCOPED_TRACE("rows " + std::to_string(rows) + ", parts " + std::to_string(parts));
            const auto runs = mha::split_into_runs(&x, rows, layer, &y, parts, 14);
            expect_runs_cover(runs, rows, 14);
            EXPECT_LE(runs.size(), parts);
        }
    }
    // 1000 rows in 4 parts of whole 14-row slivers: 252, 252, 252, 244.
    const auto runs = mha::split_into_runs(&x, 1000, layer, &y, 4, 14);
    ASSERT_EQ(runs.size(), 4u);
    EXPECT_EQ(runs[0].rows, 252u);
    EXPECT_EQ(runs[3].rows, 244u);
}

TEST(Workspace, EachThreadKeepsOneBufferPerPurposeAndOnlyGrowsIt) {
    float* context = mha::workspace(mha::WorkspaceBuffer::context, 1000);
    context[999] = 42.0f;  // the whole of it is usable
    EXPECT_EQ(mha::workspace(mha::WorkspaceBuffer::context, 10), context);  // smaller: the same memory, kept
    EXPECT_EQ(context[999], 42.0f);
    float* scores = mha::workspace(mha::WorkspaceBuffer::scores, 1000);
    EXPECT_NE(scores, context);  // another purpose, another buffer
    EXPECT_EQ(reinterpret_cast<std::uintptr_t>(scores) % 64, 0u);  // aligned for AVX-512 loads
    float* grown = mha::workspace(mha::WorkspaceBuffer::context, 1 << 20);
    grown[(1 << 20) - 1] = 1.0f;
    EXPECT_EQ(grown[999], 42.0f);  // growing keeps what was there
    float* other_thread = nullptr;
    std::thread([&] { other_thread = mha::workspace(mha::WorkspaceBuffer::context, 10); }).join();
    EXPECT_NE(other_thread, grown);  // a thread of its own, a buffer of its own
}

}  // namespace

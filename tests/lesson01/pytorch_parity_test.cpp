// Lesson 1 tests: our scaled dot-product attention against PyTorch's.
//
// scripts/generate_fixtures.py ran PyTorch in float64 on a handful of small
// cases and saved inputs and answers as .npy files under
// tests/fixtures/lesson01/<case>/. Here we load the same inputs, run
// mha::scaled_dot_product_attention, and demand that output and weights agree
// with PyTorch's to about 12 significant digits. Each case is its own
// GoogleTest test, named after the case, so a failure says which one broke.
#include <algorithm>
#include <cctype>
#include <cstddef>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <gtest/gtest.h>

#include "io/file_status.hpp"
#include "io/npy_file.hpp"
#include "reference/attention.hpp"
#include "reference/mask.hpp"
#include "test_helpers.hpp"

namespace {

using mha::BoolMatrix;
using mha::Matrix;
using mha::testing::matrices_near;

// Where the generator script writes lesson 1's fixtures. MHA_FIXTURES_DIR is a
// compile definition set in tests/CMakeLists.txt.
const std::string fixtures_dir = std::string(MHA_FIXTURES_DIR) + "/lesson01";
const std::string regenerate_hint = "generate the fixtures with: /usr/bin/python3 scripts/generate_fixtures.py";

// ---- Loading the fixtures ----

// Reads a 2-D .npy file whose elements are T (double or bool). Throws
// std::runtime_error naming the file when it is missing, holds another element
// type, or is not 2-D, so that the failing test says exactly what is wrong.
template <class T>
xt::xtensor<T, 2> load_matrix(const std::string& path) {
    if (!mha::is_regular_file(path)) {
        throw std::runtime_error("cannot open " + path + "; " + regenerate_hint);
    }
    const mha::NpyArray array = mha::read_npy(path);  // its messages name the file
    const bool expect_bool = std::is_same_v<T, bool>;
    if ((array.type == mha::NpyType::boolean) != expect_bool) {
        throw std::runtime_error(path + ": holds " + mha::npy_type_name(array.type) + " elements but " +
                                 (expect_bool ? "bool" : "float64") + " was expected");
    }
    if (array.values.dimension() != 2) {
        throw std::runtime_error(path + ": expected a 2-D array but it has shape " +
                                 mha::shape_string(array.values));
    }
    return xt::xtensor<T, 2>(xt::cast<T>(array.values));  // (rows, columns)
}

std::string case_file(const std::string& case_name, const std::string& file_name) {
    return fixtures_dir + "/" + case_name + "/" + file_name;
}

// One line of cases.txt: a case's folder name and which kind of mask it has.
struct ParityCase {
    std::string name;
    std::string mask_kind;  // "none", "bool", "causal" (a bool mask) or "float"
};

// Printed by GoogleTest when a test fails, instead of the bytes of the struct.
void PrintTo(const ParityCase& parity_case, std::ostream* out) {
    *out << parity_case.name << " (mask: " << parity_case.mask_kind << ")";
}

// Stands in for the case list when cases.txt cannot be read, so that the suite
// still has one test, which fails with a clear message instead of silently
// running nothing.
const std::string missing_kind = "missing";

// Reads tests/fixtures/lesson01/cases.txt: one "<name> <mask kind>" per line;
// blank lines and lines starting with '#' are comments.
std::vector<ParityCase> read_cases() {
    std::ifstream listing(fixtures_dir + "/cases.txt");
    std::vector<ParityCase> cases;
    std::string line;
    while (std::getline(listing, line)) {
        if (line.empty() || line[0] == '#') {
            continue;
        }
        std::istringstream fields(line);
        ParityCase parity_case;
        fields >> parity_case.name >> parity_case.mask_kind;
        if (!parity_case.name.empty()) {
            cases.push_back(parity_case);
        }
    }
    if (cases.empty()) {
        cases.push_back({"fixtures_missing", missing_kind});
    }
    return cases;
}

// ---- One test per case ----

class PytorchParity : public ::testing::TestWithParam<ParityCase> {};

TEST_P(PytorchParity, OutputAndWeightsMatchPytorch) {
    const ParityCase& parity_case = GetParam();
    if (parity_case.mask_kind == missing_kind) {
        FAIL() << "no cases found in " << fixtures_dir << "/cases.txt; " << regenerate_hint;
    }

    const Matrix Q = load_matrix<double>(case_file(parity_case.name, "Q.npy"));  // (L, d_k)
    const Matrix K = load_matrix<double>(case_file(parity_case.name, "K.npy"));  // (S, d_k)
    const Matrix V = load_matrix<double>(case_file(parity_case.name, "V.npy"));  // (S, d_v)
    const Matrix expected_output = load_matrix<double>(case_file(parity_case.name, "output.npy"));    // (L, d_v)
    const Matrix expected_weights = load_matrix<double>(case_file(parity_case.name, "weights.npy"));  // (L, S)

    // The mask kind picks the overload, exactly as PyTorch's attn_mask accepts
    // either a bool mask (true = not allowed) or a float mask added to the scores.
    mha::AttentionResult result;
    if (parity_case.mask_kind == "none") {
        result = mha::scaled_dot_product_attention(Q, K, V);
    } else if (parity_case.mask_kind == "bool" || parity_case.mask_kind == "causal") {
        const BoolMatrix mask = load_matrix<bool>(case_file(parity_case.name, "mask.npy"));  // (L, S)
        result = mha::scaled_dot_product_attention(Q, K, V, mask);
    } else if (parity_case.mask_kind == "float") {
        const Matrix additive_mask = load_matrix<double>(case_file(parity_case.name, "mask.npy"));  // (L, S)
        result = mha::scaled_dot_product_attention(Q, K, V, additive_mask);
    } else {
        FAIL() << "cases.txt gives case " << parity_case.name << " the unknown mask kind '"
               << parity_case.mask_kind << "'";
    }

    // Both sides compute in double precision, in a slightly different order: they
    // agree to about 1e-15, so 1e-12 leaves room for rounding and nothing else.
    EXPECT_TRUE(matrices_near(result.output, expected_output, 1e-12)) << "output";
    EXPECT_TRUE(matrices_near(result.weights, expected_weights, 1e-12)) << "weights";
}

// Names each test after its case, e.g. Lesson01/PytorchParity.OutputAndWeightsMatchPytorch/causal.
// GoogleTest accepts only letters, digits and '_' in a name, so anything else becomes '_'.
std::string case_name(const ::testing::TestParamInfo<ParityCase>& info) {
    std::string name = info.param.name;
    std::replace_if(
        name.begin(), name.end(), [](unsigned char c) { return !std::isalnum(c) && c != '_'; }, '_');
    return name;
}

INSTANTIATE_TEST_SUITE_P(Lesson01, PytorchParity, ::testing::ValuesIn(read_cases()), case_name);

// ---- Our causal mask is PyTorch's causal mask ----

// The causal fixture's mask is PyTorch's torch.ones(6, 6).triu(diagonal=1), the
// mask its is_causal=True applies; mha::causal_mask must build the same one, or
// a decoder built on it would let positions see (or not see) the wrong keys.
TEST(PytorchParityCausalMask, FixtureMaskEqualsCausalMask) {
    const BoolMatrix pytorch_mask = load_matrix<bool>(case_file("causal", "mask.npy"));  // (6, 6)
    const BoolMatrix our_mask = mha::causal_mask(6, 6);                                   // (6, 6)
    ASSERT_EQ(mha::shape_string(our_mask), mha::shape_string(pytorch_mask));
    for (std::size_t i = 0; i < our_mask.shape(0); ++i) {
        for (std::size_t j = 0; j < our_mask.shape(1); ++j) {
            EXPECT_EQ(our_mask(i, j), pytorch_mask(i, j))
                << "at (query " << i << ", key " << j << "); true means the key is forbidden";
        }
    }
}

}  // namespace

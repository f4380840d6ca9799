// Lesson 6 tests: the tiny transformer. Its backward pass against central
// differences of its own loss; the fast training step against the reference
// passes built from lessons 1–4; a silenced head adds nothing.
#include <cmath>
#include <vector>

#include <gtest/gtest.h>

#include "gradient_check.hpp"
#include "test_helpers.hpp"
#include "train/attention_only_transformer.hpp"
#include "train/cross_entropy.hpp"
#include "train/training_step.hpp"

namespace {

using mha::AttentionOnlyTransformer;
using mha::Matrix;
using mha::TokenBatch;
using mha::testing::expect_contains;
using mha::testing::gradients_agree;
using mha::testing::numerical_gradient;
using mha::testing::thrown_message;

struct Problem {
    AttentionOnlyTransformer model;
    TokenBatch tokens;
    std::vector<std::vector<std::size_t>> targets;
    std::vector<std::vector<bool>> counted;
};

// A small random model and batch: V 7, L 5, d_model 4, 2 layers of 2 heads, B 3.
Problem small_problem(bool causal, std::uint64_t seed) {
    mha::RandomGenerator random(seed);
    Problem p{mha::random_attention_only_transformer(7, 6, 4, 2, 2, causal, random), {}, {}, {}};
    for (std::size_t b = 0; b < 3; ++b) {
        std::vector<std::size_t> row, target;
        std::vector<bool> count;
        for (std::size_t i = 0; i < 5; ++i) {
            row.push_back(static_cast<std::size_t>(random.uniform(0, 7)) % 7);
            target.push_back(static_cast<std::size_t>(random.uniform(0, 7)) % 7);
            count.push_back(i % 2 == b % 2);  // some positions do not count
        }
        p.tokens.push_back(row), p.targets.push_back(target), p.counted.push_back(count);
    }
    return p;
}

// The loss through the reference passes: transformer_forward, then cross_entropy.
double reference_loss(const AttentionOnlyTransformer& model, const Problem& p) {
    const mha::TransformerActivations activations = mha::transformer_forward(model, p.tokens);
    const std::size_t B = p.tokens.size(), L = p.tokens[0].size(), V = model.vocabulary_size();
    Matrix logits = xt::zeros<double>({B * L, V});
    std::copy(activations.logits.begin(), activations.logits.end(), logits.begin());
    std::vector<std::size_t> targets;
    std::vector<bool> counted;
    for (std::size_t b = 0; b < B; ++b) {
        targets.insert(targets.end(), p.targets[b].begin(), p.targets[b].end());
        counted.insert(counted.end(), p.counted[b].begin(), p.counted[b].end());
    }
    return mha::cross_entropy(logits, targets, counted).loss;
}

class TransformerGradients : public ::testing::TestWithParam<bool> {};

// Every parameter's gradient from the fast training step, against central
// differences of the reference loss: two implementations of the forward
// pass and an independent estimate of the gradient.
TEST_P(TransformerGradients, EveryParameterAgreesWithCentralDifferences) {
    Problem p = small_problem(GetParam(), 11);
    mha::TrainingStep step(p.model, 3, 5);
    step.forward_backward(p.model, p.tokens, p.targets, p.counted);
    const std::vector<const Matrix*> analytic = step.gradients().parameters();
    const std::vector<Matrix*> parameters = p.model.parameters();
    ASSERT_EQ(analytic.size(), 2u + 4u * 2u + 1u);
    for (std::size_t i = 0; i < parameters.size(); ++i) {
        const Matrix original = *parameters[i];
        const Matrix numerical = numerical_gradient<Matrix>(original, [&](const Matrix& value) {
            *parameters[i] = value;
            const double loss = reference_loss(p.model, p);
            *parameters[i] = original;
            return loss;
        });
        EXPECT_TRUE(gradients_agree(*analytic[i], numerical)) << "parameter " << i;
    }
}

// The reference backward pass (built on lessons 1–4 and multi_head_attention_backward)
// and the fast one compute the same sums in other orders.
TEST_P(TransformerGradients, FastStepEqualsTheReferencePasses) {
    Problem p = small_problem(GetParam(), 12);
    const mha::TransformerActivations activations = mha::transformer_forward(p.model, p.tokens);
    mha::TrainingStep step(p.model, 3, 5);
    const double loss = step.forward_backward(p.model, p.tokens, p.targets, p.counted);
    EXPECT_NEAR(loss, reference_loss(p.model, p), 1e-13);

    // The logits and every head's weights of the forward pass.
    for (std::size_t n = 0; n < activations.logits.size(); ++n) {
        EXPECT_NEAR(step.logits().data()[n], activations.logits.data()[n], 1e-13);
    }
    for (std::size_t l = 0; l < 2; ++l) {
        for (std::size_t b = 0; b < 3; ++b) {
            for (std::size_t h = 0; h < 2; ++h) {
                for (std::size_t i = 0; i < 5; ++i) {
                    for (std::size_t j = 0; j < 5; ++j) {
                        EXPECT_NEAR(step.weight(l, b, h, i, j), activations.weights[l](b, h, i, j), 1e-14);
                    }
                }
            }
        }
    }
    // The gradients, from the reference backward pass given cross_entropy's dL/dlogits.
    const std::size_t N = 15, V = 7;
    Matrix logits = xt::zeros<double>({N, V});
    std::copy(activations.logits.begin(), activations.logits.end(), logits.begin());
    std::vector<std::size_t> targets;
    std::vector<bool> counted;
    for (std::size_t b = 0; b < 3; ++b) {
        targets.insert(targets.end(), p.targets[b].begin(), p.targets[b].end());
        counted.insert(counted.end(), p.counted[b].begin(), p.counted[b].end());
    }
    const Matrix grad_logits = mha::cross_entropy(logits, targets, counted).grad_logits;
    mha::Tensor3 grad = xt::zeros<double>({3, 5, 7});
    std::copy(grad_logits.begin(), grad_logits.end(), grad.begin());
    const AttentionOnlyTransformer reference = mha::transformer_backward(p.model, p.tokens, activations, grad);
    const std::vector<const Matrix*> expected = reference.parameters(), actual = step.gradients().parameters();
    for (std::size_t i = 0; i < expected.size(); ++i) {
        EXPECT_TRUE(mha::testing::matrices_near(*actual[i], *expected[i], 1e-13)) << "parameter " << i;
    }
}

INSTANTIATE_TEST_SUITE_P(CausalAndNot, TransformerGradients, ::testing::Bool(),
                         [](const auto& info) { return info.param ? "causal" : "not_causal"; });

TEST(Transformer, CausalAttentionNeverLooksAhead) {
    Problem p = small_problem(true, 13);
    mha::TrainingStep step(p.model, 3, 5);
    step.forward(p.model, p.tokens);
    for (std::size_t i = 0; i < 5; ++i) {
        for (std::size_t j = i + 1; j < 5; ++j) {
            EXPECT_EQ(step.weight(1, 2, 1, i, j), 0.0) << "query " << i << " looks at key " << j;
        }
    }
    // And a token changed at the end changes no logit before it.
    const Matrix before = step.logits();
    p.tokens[0][4] = (p.tokens[0][4] + 1) % 7;
    step.forward(p.model, p.tokens);
    for (std::size_t i = 0; i < 4; ++i) {
        for (std::size_t v = 0; v < 7; ++v) {
            EXPECT_EQ(step.logits()(i, v), before(i, v));
        }
    }
}

TEST(Transformer, ASilencedHeadAddsNothing) {
    // Without head 1 of layer 0, the model equals one whose W_v rows for head 1 are zero:
    // both make that head's output vanish before W_o, by different routes.
    Problem p = small_problem(false, 14);
    const AttentionOnlyTransformer silenced = mha::without_head(p.model, 0, 1);
    AttentionOnlyTransformer no_values = p.model;
    Matrix& W_v = no_values.layers[0].value_projection.weight;  // (d, d): rows 2, 3 make head 1's values
    for (std::size_t r = 2; r < 4; ++r) {
        for (std::size_t c = 0; c < 4; ++c) {
            W_v(r, c) = 0.0;
        }
    }
    const mha::TransformerActivations a = mha::transformer_forward(silenced, p.tokens);
    const mha::TransformerActivations b = mha::transformer_forward(no_values, p.tokens);
    for (std::size_t n = 0; n < a.logits.size(); ++n) {
        EXPECT_NEAR(a.logits.data()[n], b.logits.data()[n], 1e-13);
    }
    expect_contains(thrown_message([&] { mha::without_head(p.model, 2, 0); }), {"without_head", "layer 2"});
}

TEST(Transformer, RefusesABatchThatDoesNotFit) {
    Problem p = small_problem(true, 15);
    mha::TrainingStep step(p.model, 3, 5);
    p.tokens[1][2] = 7;
    expect_contains(thrown_message([&] { step.forward(p.model, p.tokens); }),
                    {"token 7", "(1, 2)", "vocabulary size 7"});
    p.tokens.pop_back();
    expect_contains(thrown_message([&] { step.forward(p.model, p.tokens); }), {"2 sequences", "made for 3"});
    expect_contains(thrown_message([&] { mha::TrainingStep(p.model, 3, 9); }), {"length 9", "at most 6"});
    expect_contains(thrown_message([&] { mha::transformer_forward(p.model, {{1, 2}, {3}}); }),
                    {"sequence 1", "1 tokens", "sequence 0 has 2"});
}

}  // namespace

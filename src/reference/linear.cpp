// Lesson 2: the linear layer.
#include "reference/linear.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "reference/matmul.hpp"

namespace mha {

Matrix Linear::forward(const Matrix& x) const {
    if (x.shape(1) != in_features()) {
        throw std::invalid_argument("Linear::forward: input is " + shape_string(x) + " but the weight is " +
                                    shape_string(weight) + ": the input needs " + std::to_string(in_features()) +
                                    " columns (in_features)");
    }
    if (has_bias() && bias.size() != out_features()) {
        throw std::invalid_argument("Linear::forward: bias is " + shape_string(bias) + " but the weight is " +
                                    shape_string(weight) + ": the bias needs " + std::to_string(out_features()) +
                                    " entries (out_features)");
    }
    // EXERCISE linear_layer (lesson 2)
    // HINT: x Wᵀ is every row of x dotted with every row of W: lesson 1's matmul_transposed(x, weight).
    // HINT: Then, when the layer has a bias, add bias(o) to column o of every row.
    // [linear_forward]
    Matrix y = matmul_transposed(x, weight);  // (N, in) x (in, out) = (N, out)
    if (has_bias()) {
        for (std::size_t n = 0; n < y.shape(0); ++n) {
            for (std::size_t o = 0; o < y.shape(1); ++o) {
                y(n, o) += bias(o);  // the same bias for every row
            }
        }
    }
    return y;
    // [linear_forward]
    // END EXERCISE
}

Linear xavier_uniform_linear(std::size_t in_features, std::size_t out_features, bool with_bias,
                             RandomGenerator& random) {
    if (in_features == 0 || out_features == 0) {
        throw std::invalid_argument("xavier_uniform_linear: in_features (" + std::to_string(in_features) +
                                    ") and out_features (" + std::to_string(out_features) +
                                    ") must both be at least 1");
    }
    const double limit = std::sqrt(6.0 / static_cast<double>(in_features + out_features));
    Linear layer;
    layer.weight = xt::zeros<double>({out_features, in_features});  // (out, in)
    for (double& w : layer.weight) {
        w = random.uniform(-limit, limit);
    }
    layer.bias = xt::zeros<double>({with_bias ? out_features : std::size_t{0}});  // (out) or (0)
    return layer;
}

Linear default_linear(std::size_t in_features, std::size_t out_features, bool with_bias, RandomGenerator& random) {
    if (in_features == 0 || out_features == 0) {
        throw std::invalid_argument("default_linear: in_features (" + std::to_string(in_features) +
                                    ") and out_features (" + std::to_string(out_features) +
                                    ") must both be at least 1");
    }
    const double bound = 1.0 / std::sqrt(static_cast<double>(in_features));
    Linear layer;
    layer.weight = xt::zeros<double>({out_features, in_features});  // (out, in)
    for (double& w : layer.weight) {
        w = random.uniform(-bound, bound);
    }
    layer.bias = xt::zeros<double>({with_bias ? out_features : std::size_t{0}});  // (out) or (0)
    return layer;
}

}  // namespace mha

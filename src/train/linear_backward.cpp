// Lesson 6: the backward pass of the linear layer.
#include "train/linear_backward.hpp"

#include <stdexcept>
#include <string>

#include "reference/matmul.hpp"

namespace mha {

LinearGradients linear_backward(const Linear& layer, const Matrix& x, const Matrix& grad_output) {
    const std::size_t N = x.shape(0), in = layer.in_features(), out = layer.out_features();
    if (x.shape(1) != in || grad_output.shape(0) != N || grad_output.shape(1) != out) {
        throw std::invalid_argument("linear_backward: the weight is " + shape_string(layer.weight) + ", x is " +
                                    shape_string(x) + " and grad_output " + shape_string(grad_output) +
                                    "; x must be (N, in_features) and grad_output (N, out_features)");
    }
    // EXERCISE linear_backward (lesson 6)
    // HINT: dx = dY W: matmul(grad_output, layer.weight), (N, out) · (out, in).
    // HINT: dW(o, i) = Σ over rows n of dY(n, o) · x(n, i): every row adds its outer product, as all rows share W.
    // HINT: db(o) = Σ over rows of dY(n, o), and an empty (0) vector when the layer has no bias.
    // [linear_backward]
    LinearGradients gradients;
    gradients.input = matmul(grad_output, layer.weight);  // (N, out) · (out, in) = (N, in)
    gradients.weight = xt::zeros<double>({out, in});      // (out, in)
    for (std::size_t n = 0; n < N; ++n) {
        for (std::size_t o = 0; o < out; ++o) {
            for (std::size_t i = 0; i < in; ++i) {
                gradients.weight(o, i) += grad_output(n, o) * x(n, i);  // every row adds its outer product
            }
        }
    }
    gradients.bias = xt::zeros<double>({layer.has_bias() ? out : std::size_t{0}});  // (out) or (0)
    for (std::size_t n = 0; n < N && layer.has_bias(); ++n) {
        for (std::size_t o = 0; o < out; ++o) {
            gradients.bias(o) += grad_output(n, o);  // the bias is added to every row
        }
    }
    // [linear_backward]
    return gradients;
    // END EXERCISE
}

}  // namespace mha

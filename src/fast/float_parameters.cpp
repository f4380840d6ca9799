// Lesson 5: the parameters of multi-head attention in float.
#include "fast/float_parameters.hpp"

#include <algorithm>
#include <cmath>

#include "reference/packed_projection.hpp"

namespace mha {

FloatLinear FloatLinear::from(const Linear& layer, double factor, std::size_t nr) {
    const std::size_t out = layer.out_features(), in = layer.in_features();
    FloatLinear result;
    result.weight = xt::xtensor<float, 2>::from_shape({out, in});
    std::transform(layer.weight.begin(), layer.weight.end(), result.weight.begin(),
                   [factor](double w) { return static_cast<float>(w * factor); });
    result.bias = xt::zeros<float>({out});
    std::transform(layer.bias.begin(), layer.bias.end(), result.bias.begin(),
                   [factor](double b) { return static_cast<float>(b * factor); });
    // Wᵀ (in, out), packed once: the B operand of every X Wᵀ.
    result.packed = PackedMatrix::transposed(result.weight.data(), in, in, out, nr);
    return result;
}

FloatParameters::FloatParameters(const MultiHeadAttention& reference, const SimdKernels& kernels_)
    : kernels(&kernels_),
      embed_dim(reference.embed_dim()),
      num_heads(reference.num_heads),
      head_dim(reference.head_dim()),
      kdim(reference.kdim()),
      vdim(reference.vdim()) {
    const std::size_t NR = kernels->nr;
    const double scale = 1.0 / std::sqrt(static_cast<double>(head_dim));  // 1 / sqrt(d_k)
    query = FloatLinear::from(reference.query_projection, 1.0, NR);
    scaled_query = FloatLinear::from(reference.query_projection, scale, NR);
    key = FloatLinear::from(reference.key_projection, 1.0, NR);
    value = FloatLinear::from(reference.value_projection, 1.0, NR);
    output = FloatLinear::from(reference.output_projection, 1.0, NR);
    if (kdim == embed_dim && vdim == embed_dim) {
        // X [W_q'; W_k; W_v]ᵀ is [Q | K | V] side by side: one product whose packed X serves 3E columns.
        QueryKeyValueProjections scaled = {reference.query_projection, reference.key_projection,
                                           reference.value_projection};
        scaled.query.weight *= scale;
        scaled.query.bias *= scale;
        stacked = FloatLinear::from(stack_projections(scaled), 1.0, NR);  // (3E, E)
    }
}

}  // namespace mha

// Lesson 3: PyTorch's packed input projection.
#include "reference/packed_projection.hpp"

#include <stdexcept>
#include <string>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xview.hpp>

namespace mha {
namespace {

[[noreturn]] void fail(const char* function, const std::string& what) {
    throw std::invalid_argument(std::string(function) + ": " + what);
}

}  // namespace

Linear output_rows(const Linear& layer, std::size_t first, std::size_t count) {
    if (first > layer.out_features() || count > layer.out_features() - first) {
        fail("output_rows", "rows [" + std::to_string(first) + ", " + std::to_string(first + count) +
                                ") of a layer whose weight is " + shape_string(layer.weight));
    }
    Linear part;
    part.weight = xt::view(layer.weight, xt::range(first, first + count), xt::all());  // (count, in)
    part.bias = layer.has_bias() ? Vector(xt::view(layer.bias, xt::range(first, first + count)))
                                 : Vector(xt::zeros<double>({std::size_t{0}}));
    return part;
}

QueryKeyValueProjections split_packed_projection(const Linear& packed, const char* caller) {
    const std::size_t E = packed.in_features();
    if (packed.out_features() != 3 * E || (packed.has_bias() && packed.bias.size() != 3 * E)) {
        fail(caller, "the weight is " + shape_string(packed.weight) + " and the bias " + shape_string(packed.bias) +
                         "; a packed projection is (3·d_model, d_model) with a bias of (3·d_model) or none");
    }
    // Rows [0, E) make the queries, [E, 2E) the keys, [2E, 3E) the values.
    return {output_rows(packed, 0, E), output_rows(packed, E, E), output_rows(packed, 2 * E, E)};
}

Linear stack_projections(const QueryKeyValueProjections& projections) {
    const std::size_t E = projections.query.out_features();
    for (const Linear* part : {&projections.query, &projections.key, &projections.value}) {
        if (part->weight.shape(0) != E || part->weight.shape(1) != E) {
            fail("stack_projections", "W_q is " + shape_string(projections.query.weight) + ", W_k " +
                                          shape_string(projections.key.weight) + " and W_v " +
                                          shape_string(projections.value.weight) + "; stacking needs three (E, E)");
        }
    }
    Linear packed;
    packed.weight = xt::concatenate(
        xt::xtuple(projections.query.weight, projections.key.weight, projections.value.weight), 0);  // (3E, E)
    packed.bias = stack_biases(projections);                                                         // (3E) or (0)
    return packed;
}

Vector stack_biases(const QueryKeyValueProjections& projections) {
    const std::size_t E = projections.query.out_features();
    const bool bias = projections.query.has_bias();
    for (const Linear* part : {&projections.query, &projections.key, &projections.value}) {
        if (part->has_bias() != bias || (bias && part->bias.size() != E)) {
            fail("stack_biases", "b_q is " + shape_string(projections.query.bias) + ", b_k " +
                                     shape_string(projections.key.bias) + " and b_v " +
                                     shape_string(projections.value.bias) + "; they must all be (E) or all empty");
        }
    }
    if (!bias) {
        return xt::zeros<double>({std::size_t{0}});
    }
    return xt::concatenate(xt::xtuple(projections.query.bias, projections.key.bias, projections.value.bias));
}

void set_packed_biases(QueryKeyValueProjections& projections, const Vector& packed_bias) {
    const std::size_t E = projections.query.out_features();
    if (packed_bias.size() != 0 && packed_bias.size() != 3 * E) {
        fail("set_packed_biases", "in_proj_bias is " + shape_string(packed_bias) + " but must be (3·E) = (" +
                                      std::to_string(3 * E) + ") or empty");
    }
    Linear* parts[] = {&projections.query, &projections.key, &projections.value};
    for (std::size_t part = 0; part < 3; ++part) {
        const std::size_t first = part * E;  // b_q, b_k or b_v
        parts[part]->bias = packed_bias.size() == 0 ? Vector(xt::zeros<double>({std::size_t{0}}))
                                                    : Vector(xt::view(packed_bias, xt::range(first, first + E)));
    }
}

AttentionHeads heads_from_packed_projection(const Linear& packed, std::size_t num_heads) {
    const QueryKeyValueProjections parts = split_packed_projection(packed, "heads_from_packed_projection");
    const std::size_t d_model = packed.in_features();
    if (num_heads == 0 || d_model % num_heads != 0) {
        fail("heads_from_packed_projection",
             std::to_string(d_model) + " columns cannot be split into " + std::to_string(num_heads) +
                 " heads of equal size; d_model must be a multiple of the number of heads");
    }
    const std::size_t d_k = d_model / num_heads;
    AttentionHeads result;
    for (std::size_t h = 0; h < num_heads; ++h) {
        SelfAttention head;
        head.query_projection = output_rows(parts.query, h * d_k, d_k);  // (d_k, d_model)
        head.key_projection = output_rows(parts.key, h * d_k, d_k);      // (d_k, d_model)
        head.value_projection = output_rows(parts.value, h * d_k, d_k);  // (d_k, d_model)
        result.heads.push_back(std::move(head));
    }
    return result;
}

HeadsResult packed_heads_forward(const Linear& packed, std::size_t num_heads, const Matrix& X) {
    const std::size_t d_model = packed.in_features();
    if (packed.out_features() != 3 * d_model) {
        fail("packed_heads_forward", "the weight is " + shape_string(packed.weight) +
                                         "; a packed projection is (3·d_model, d_model)");
    }
    // One product makes Q, K and V for every head: (L, d_model) -> (L, 3·d_model).
    const Matrix QKV = packed.forward(X);
    // Its three blocks of columns are Q, K and V, each (L, d_model): a split into three "heads".
    const std::vector<Matrix> Q_K_V = split_heads(QKV, 3);
    // Then every head attends on its own, as in AttentionHeads, on its d_k columns of each.
    return attend_each_head(Q_K_V[0], Q_K_V[1], Q_K_V[2], num_heads);
}

}  // namespace mha

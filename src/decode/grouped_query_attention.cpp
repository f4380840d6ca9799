// Lesson 7: grouped-query attention, H query heads sharing G key/value heads.
#include "decode/grouped_query_attention.hpp"

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xview.hpp>

#include "reference/attention.hpp"
#include "reference/attention_heads.hpp"
#include "reference/mask.hpp"

namespace mha {
namespace {

[[noreturn]] void fail(const char* function, const std::string& what) {
    throw std::invalid_argument(std::string(function) + ": " + what);
}

std::string number(std::size_t n) { return std::to_string(n); }

}  // namespace

void check_head_counts(const char* function, std::size_t num_heads, std::size_t num_kv_heads) {
    if (num_heads == 0) {
        fail(function, "num_heads is 0; it needs at least one query head");
    }
    if (num_kv_heads == 0) {
        fail(function, "num_kv_heads is 0; it needs at least one key/value head (1 is multi-query attention)");
    }
    if (num_heads % num_kv_heads != 0) {
        fail(function, "num_kv_heads " + number(num_kv_heads) + " does not divide num_heads " + number(num_heads) +
                           "; every key/value head must serve the same number of query heads");
    }
}

std::size_t key_value_head_for(std::size_t query_head, std::size_t num_heads, std::size_t num_kv_heads) {
    check_head_counts("key_value_head_for", num_heads, num_kv_heads);
    if (query_head >= num_heads) {
        fail("key_value_head_for", "query head " + number(query_head) + " does not exist: there are " +
                                       number(num_heads) + " heads, 0 to " + number(num_heads - 1));
    }
    // EXERCISE grouped_head_mapping (lesson 7)
    // HINT: The H query heads form G groups of H/G consecutive heads; group g reads key/value head g.
    // HINT: With H = 8 and G = 2, heads 0-3 give 0 and heads 4-7 give 1: that is ⌊i·G/H⌋, or i / (H/G).
    // [grouped_head_mapping]
    const std::size_t group_size = num_heads / num_kv_heads;  // H/G query heads per key/value head
    return query_head / group_size;
    // [grouped_head_mapping]
    // END EXERCISE
}

void GroupedQueryAttention::check() const {
    const char* function = "GroupedQueryAttention";
    check_head_counts(function, num_heads, num_kv_heads);
    const std::size_t E = embed_dim();
    if (E == 0 || E % num_heads != 0) {
        fail(function, "embed_dim " + number(E) + " is not divisible by num_heads " + number(num_heads) +
                           "; every head needs d_k = embed_dim / num_heads columns");
    }
    const std::size_t kv = key_value_dim();
    struct Expected {
        const Linear* projection;
        const char* name;
        std::size_t rows;
        const char* why;
    };
    const Expected projections[] = {
        {&query_projection, "the query projection", E, "(E, E)"},
        {&key_projection, "the key projection", kv, "(G·d_k, E)"},
        {&value_projection, "the value projection", kv, "(G·d_k, E)"},
        {&output_projection, "the output projection", E, "(E, E)"}};
    for (const Expected& expected : projections) {
        const Linear& projection = *expected.projection;
        if (projection.out_features() != expected.rows || projection.in_features() != E) {
            fail(function, std::string(expected.name) + "'s weight is " + shape_string(projection.weight) +
                               " but must be " + expected.why + " = " + shape_string({expected.rows, E}) +
                               " with E = " + number(E) + ", H = " + number(num_heads) + ", G = " +
                               number(num_kv_heads));
        }
        if (projection.has_bias() != query_projection.has_bias()) {
            fail(function, std::string(expected.name) + (projection.has_bias() ? " has" : " has no") +
                               " bias, unlike the query projection: either all projections have biases or none");
        }
        if (projection.has_bias() && projection.bias.size() != expected.rows) {
            fail(function, std::string(expected.name) + "'s bias is " + shape_string(projection.bias) +
                               " but must be (" + number(expected.rows) + ")");
        }
    }
}

MultiHeadAttentionResult GroupedQueryAttention::forward(const Tensor3& x, bool causal) const {
    const char* function = "GroupedQueryAttention::forward";
    check();
    const std::size_t B = x.shape(0), L = x.shape(1), E = embed_dim(), H = num_heads, G = num_kv_heads;
    if (x.shape(2) != E || B == 0 || L == 0) {
        fail(function, "x is " + shape_string(x) + " but must be (B, L, E) with E = " + number(E) +
                           " and B, L at least 1");
    }
    const Matrix mask = additive_mask(causal ? causal_mask(L, L) : BoolMatrix(xt::zeros<bool>({L, L})));  // (L, L)

    MultiHeadAttentionResult result;
    result.output = xt::zeros<double>({B, L, E});
    result.weights = xt::zeros<double>({B, H, L, L});
    for (std::size_t b = 0; b < B; ++b) {
        // ---- Pass 1: project; the keys and values are G heads wide, not H ----
        const Matrix x_b = batch_entry(x, b);                                                  // (L, E)
        const std::vector<Matrix> Q = split_heads(query_projection.forward(x_b), H);          // H x (L, d_k)
        const std::vector<Matrix> K = split_heads(key_projection.forward(x_b), G);            // G x (L, d_k)
        const std::vector<Matrix> V = split_heads(value_projection.forward(x_b), G);          // G x (L, d_k)

        // ---- Pass 2: each query head attends with the keys and values of its group ----
        std::vector<Matrix> head_outputs;  // H x (L, d_k)
        for (std::size_t h = 0; h < H; ++h) {
            const std::size_t g = key_value_head_for(h, H, G);
            AttentionResult head = scaled_dot_product_attention(Q[h], K[g], V[g], mask);
            xt::view(result.weights, b, h, xt::all(), xt::all()) = head.weights;  // (L, L)
            head_outputs.push_back(std::move(head.output));
        }

        // ---- Pass 3: concatenate and mix, exactly as lesson 4 ----
        xt::view(result.output, b, xt::all(), xt::all()) = output_projection.forward(concat_heads(head_outputs));
    }
    return result;
}

GroupedQueryAttention grouped_from_multi_head(const MultiHeadAttention& module) {
    module.check();
    if (module.kdim() != module.embed_dim() || module.vdim() != module.embed_dim()) {
        fail("grouped_from_multi_head", "the module has kdim " + number(module.kdim()) + " and vdim " +
                                            number(module.vdim()) + " but self-attention needs both equal to E = " +
                                            number(module.embed_dim()));
    }
    GroupedQueryAttention grouped;
    grouped.num_heads = module.num_heads;
    grouped.num_kv_heads = module.num_heads;
    grouped.query_projection = module.query_projection;
    grouped.key_projection = module.key_projection;
    grouped.value_projection = module.value_projection;
    grouped.output_projection = module.output_projection;
    return grouped;
}

MultiHeadAttention repeat_key_value_heads(const GroupedQueryAttention& module) {
    module.check();
    const std::size_t E = module.embed_dim(), H = module.num_heads, d_k = module.head_dim();
    MultiHeadAttention repeated;
    repeated.num_heads = H;
    repeated.query_projection = module.query_projection;
    repeated.output_projection = module.output_projection;
    // Row block h of the (E, E) result is row block g = key_value_head_for(h) of the (G·d_k, E) original.
    const auto repeat = [&](const Linear& grouped) {
        Linear full;
        full.weight = xt::zeros<double>({E, E});                                     // (E, E)
        full.bias = xt::zeros<double>({grouped.has_bias() ? E : std::size_t{0}});  // (E) or (0)
        for (std::size_t h = 0; h < H; ++h) {
            const std::size_t g = key_value_head_for(h, H, module.num_kv_heads);
            xt::view(full.weight, xt::range(h * d_k, (h + 1) * d_k), xt::all()) =
                xt::view(grouped.weight, xt::range(g * d_k, (g + 1) * d_k), xt::all());  // (d_k, E)
            if (grouped.has_bias()) {
                xt::view(full.bias, xt::range(h * d_k, (h + 1) * d_k)) =
                    xt::view(grouped.bias, xt::range(g * d_k, (g + 1) * d_k));  // (d_k)
            }
        }
        return full;
    };
    repeated.key_projection = repeat(module.key_projection);
    repeated.value_projection = repeat(module.value_projection);
    return repeated;
}

GroupedQueryAttention random_grouped_query_attention(std::size_t embed_dim, std::size_t num_heads,
                                                     std::size_t num_kv_heads, bool with_bias,
                                                     RandomGenerator& random) {
    const char* function = "random_grouped_query_attention";
    check_head_counts(function, num_heads, num_kv_heads);
    if (embed_dim == 0 || embed_dim % num_heads != 0) {
        fail(function, "embed_dim " + number(embed_dim) + " is not divisible by num_heads " + number(num_heads));
    }
    const std::size_t kv = num_kv_heads * (embed_dim / num_heads);  // G·d_k
    GroupedQueryAttention module;
    module.num_heads = num_heads;
    module.num_kv_heads = num_kv_heads;
    module.query_projection = xavier_uniform_linear(embed_dim, embed_dim, with_bias, random);  // (E, E)
    module.key_projection = xavier_uniform_linear(embed_dim, kv, with_bias, random);           // (G·d_k, E)
    module.value_projection = xavier_uniform_linear(embed_dim, kv, with_bias, random);         // (G·d_k, E)
    module.output_projection = default_linear(embed_dim, embed_dim, with_bias, random);        // (E, E)
    return module;
}

}  // namespace mha

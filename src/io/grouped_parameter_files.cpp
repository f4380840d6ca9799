// Lesson 7: grouped-query attention's parameters as PyTorch-named .npy files.
#include "io/grouped_parameter_files.hpp"

#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <xtensor/xview.hpp>

#include "io/file_status.hpp"
#include "io/npy_file.hpp"

namespace mha {
namespace {

std::string file_in(const std::string& directory, const std::string& name) { return directory + "/" + name; }

// A float .npy file of exactly this shape; `meaning` says what the shape is, such as "(G·d_k, E)".
xt::xarray<double> read_of_shape(const std::string& path, const std::vector<std::size_t>& shape,
                                 const std::string& meaning) {
    if (!path_exists(path)) {
        throw std::runtime_error(path + ": no such file; grouped-query attention (--num-kv-heads) needs "
                                        "q_proj_weight.npy, k_proj_weight.npy, v_proj_weight.npy and out_proj.weight.npy");
    }
    NpyArray array = read_npy(path);
    if (array.type == NpyType::boolean) {
        throw std::runtime_error(path + ": holds booleans; parameters must be float32 or float64");
    }
    if (std::vector<std::size_t>(array.values.shape().begin(), array.values.shape().end()) != shape) {
        throw std::runtime_error(path + ": has shape " + shape_string(array.values) + " but must be " + meaning +
                                 " = " + shape_string(shape));
    }
    return std::move(array.values);
}

}  // namespace

std::vector<std::string> save_grouped_query_parameters(const GroupedQueryAttention& module,
                                                       const std::string& directory) {
    module.check();
    std::vector<std::pair<std::string, xt::xarray<double>>> arrays = {
        {"q_proj_weight.npy", module.query_projection.weight},
        {"k_proj_weight.npy", module.key_projection.weight},
        {"v_proj_weight.npy", module.value_projection.weight},
        {"out_proj.weight.npy", module.output_projection.weight}};
    if (module.query_projection.has_bias()) {
        const std::size_t E = module.embed_dim(), kv = module.key_value_dim();
        Vector packed = xt::zeros<double>({E + 2 * kv});  // (E + 2·G·d_k): b_q, b_k, b_v
        xt::view(packed, xt::range(0, E)) = module.query_projection.bias;
        xt::view(packed, xt::range(E, E + kv)) = module.key_projection.bias;
        xt::view(packed, xt::range(E + kv, E + 2 * kv)) = module.value_projection.bias;
        arrays.emplace_back("in_proj_bias.npy", packed);
        arrays.emplace_back("out_proj.bias.npy", module.output_projection.bias);
    }
    std::vector<std::string> written;
    for (const auto& [name, values] : arrays) {
        written.push_back(file_in(directory, name));
        write_npy(written.back(), values, NpyType::float64);
    }
    return written;
}

GroupedQueryAttention load_grouped_query_parameters(const std::string& directory, std::size_t num_heads,
                                                    std::size_t num_kv_heads) {
    check_head_counts("load_grouped_query_parameters", num_heads, num_kv_heads);
    // out_proj.weight (E, E) fixes E; then d_k = E / H and the key/value rows G·d_k.
    const std::string output_path = file_in(directory, "out_proj.weight.npy");
    if (!path_exists(output_path)) {
        throw std::runtime_error(output_path + ": no such file; the weights folder needs out_proj.weight.npy (E, E)");
    }
    const NpyArray output = read_npy(output_path);
    if (output.values.dimension() != 2 || output.values.shape(0) != output.values.shape(1) ||
        output.values.shape(0) == 0) {
        throw std::runtime_error(output_path + ": has shape " + shape_string(output.values) +
                                 " but must be (E, E) with E >= 1");
    }
    const std::size_t E = output.values.shape(0);
    if (E % num_heads != 0) {
        throw std::invalid_argument("load_grouped_query_parameters: embed_dim " + std::to_string(E) + " (from " +
                                    output_path + ") is not divisible by num_heads " + std::to_string(num_heads));
    }
    const std::size_t kv = num_kv_heads * (E / num_heads);  // G·d_k
    const std::string kv_meaning = "(G·d_k, E) with G = " + std::to_string(num_kv_heads) +
                                   ", d_k = E / H = " + std::to_string(E / num_heads);
    GroupedQueryAttention module;
    module.num_heads = num_heads;
    module.num_kv_heads = num_kv_heads;
    module.output_projection.weight = read_of_shape(output_path, {E, E}, "(E, E)");
    module.query_projection.weight = read_of_shape(file_in(directory, "q_proj_weight.npy"), {E, E}, "(E, E)");
    module.key_projection.weight = read_of_shape(file_in(directory, "k_proj_weight.npy"), {kv, E}, kv_meaning);
    module.value_projection.weight = read_of_shape(file_in(directory, "v_proj_weight.npy"), {kv, E}, kv_meaning);

    // Biases: both files or neither, as PyTorch's bias=True or bias=False saves them.
    const std::string bias_path = file_in(directory, "in_proj_bias.npy");
    const std::string output_bias_path = file_in(directory, "out_proj.bias.npy");
    if (path_exists(bias_path) != path_exists(output_bias_path)) {
        throw std::runtime_error(directory + ": has " +
                                 (path_exists(bias_path) ? "in_proj_bias.npy but not out_proj.bias.npy"
                                                         : "out_proj.bias.npy but not in_proj_bias.npy") +
                                 "; a module has both biases or neither");
    }
    const Vector empty = xt::zeros<double>({std::size_t{0}});
    module.query_projection.bias = module.key_projection.bias = module.value_projection.bias = empty;
    module.output_projection.bias = empty;
    if (path_exists(bias_path)) {
        const Vector packed = read_of_shape(bias_path, {E + 2 * kv}, "(E + 2·G·d_k)");  // b_q, b_k, b_v
        module.query_projection.bias = xt::view(packed, xt::range(0, E));
        module.key_projection.bias = xt::view(packed, xt::range(E, E + kv));
        module.value_projection.bias = xt::view(packed, xt::range(E + kv, E + 2 * kv));
        module.output_projection.bias = read_of_shape(output_bias_path, {E}, "(E)");
    }
    module.check();
    return module;
}

}  // namespace mha

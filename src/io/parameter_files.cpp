// Lesson 4: parameters in .npy files named as PyTorch names them.
#include "io/parameter_files.hpp"

#include <stdexcept>

#include "io/file_status.hpp"
#include "io/npy_file.hpp"
#include "reference/packed_projection.hpp"

namespace mha {
namespace {

std::string file_in(const std::string& directory, const std::string& name) { return directory + "/" + name; }

// Whether the file is there, readable or not: an unreadable file is then reported as
// such by read_npy ("permission denied"), not as missing; a FIFO is never opened.
bool exists(const std::string& path) { return path_exists(path); }

// Reads a float .npy file that must have the given number of dimensions.
xt::xarray<double> read_floats(const std::string& path, std::size_t dimensions) {
    NpyArray array = read_npy(path);
    if (array.type == NpyType::boolean) {
        throw std::runtime_error(path + ": holds booleans; parameters must be float32 or float64");
    }
    if (array.values.dimension() != dimensions) {
        throw std::runtime_error(path + ": has shape " + shape_string(array.values) + " but must have " +
                                 std::to_string(dimensions) + " dimension" + (dimensions == 1 ? "" : "s"));
    }
    return std::move(array.values);
}

void require_shape(const std::string& path, const xt::xarray<double>& values, const std::vector<std::size_t>& shape) {
    if (std::vector<std::size_t>(values.shape().begin(), values.shape().end()) != shape) {
        throw std::runtime_error(path + ": has shape " + shape_string(values) + " but must be " + shape_string(shape));
    }
}

}  // namespace

std::vector<std::pair<std::string, xt::xarray<double>>> parameter_arrays(const MultiHeadAttention& module) {
    module.check();
    std::vector<std::pair<std::string, xt::xarray<double>>> arrays;
    const std::size_t E = module.embed_dim();
    const QueryKeyValueProjections input = {module.query_projection, module.key_projection, module.value_projection};
    if (module.kdim() == E && module.vdim() == E) {
        // PyTorch's packed form: W_q over W_k over W_v, (3E, E).
        arrays.emplace_back("in_proj_weight.npy", stack_projections(input).weight);
    } else {
        arrays.emplace_back("q_proj_weight.npy", input.query.weight);  // (E, E)
        arrays.emplace_back("k_proj_weight.npy", input.key.weight);    // (E, kdim)
        arrays.emplace_back("v_proj_weight.npy", input.value.weight);  // (E, vdim)
    }
    if (module.query_projection.has_bias()) {
        arrays.emplace_back("in_proj_bias.npy", stack_biases(input));  // (3E)
        arrays.emplace_back("out_proj.bias.npy", module.output_projection.bias);
    }
    arrays.emplace_back("out_proj.weight.npy", module.output_projection.weight);
    return arrays;
}

std::vector<std::string> save_parameters(const MultiHeadAttention& module, const std::string& directory,
                                         NpyType type) {
    if (type == NpyType::boolean) {
        throw std::invalid_argument("save_parameters: parameters are saved as float32 or float64, not bool");
    }
    std::vector<std::string> written;
    for (const auto& [name, values] : parameter_arrays(module)) {
        written.push_back(file_in(directory, name));
        write_npy(written.back(), values, type);
    }
    return written;
}

MultiHeadAttention load_parameters(const std::string& directory, std::size_t num_heads) {
    MultiHeadAttention module;
    module.num_heads = num_heads;

    // out_proj.weight (E, E) fixes E, the size everything else is checked against.
    const std::string output_weight_path = file_in(directory, "out_proj.weight.npy");
    const Matrix output_weight = read_floats(output_weight_path, 2);
    const std::size_t E = output_weight.shape(0);
    require_shape(output_weight_path, output_weight, {E, E});
    if (E == 0) {
        throw std::runtime_error(output_weight_path + ": has shape (0, 0), so E (embed_dim) would be 0; "
                                                      "a module needs E >= 1");
    }
    module.output_projection.weight = output_weight;
    if (num_heads == 0 || E % num_heads != 0) {
        throw std::invalid_argument("load_parameters: embed_dim " + std::to_string(E) + " (from " +
                                    output_weight_path + ") is not divisible by num_heads " +
                                    std::to_string(num_heads));
    }

    QueryKeyValueProjections input;
    const std::string packed_path = file_in(directory, "in_proj_weight.npy");
    if (exists(packed_path)) {
        Linear packed;
        packed.weight = read_floats(packed_path, 2);
        packed.bias = xt::zeros<double>({std::size_t{0}});  // the biases come from in_proj_bias.npy, below
        require_shape(packed_path, packed.weight, {3 * E, E});
        input = split_packed_projection(packed);  // rows [0, E) W_q, [E, 2E) W_k, [2E, 3E) W_v
    } else {
        const std::string q_path = file_in(directory, "q_proj_weight.npy");
        if (!exists(q_path)) {
            throw std::runtime_error(directory + ": has neither in_proj_weight.npy nor q_proj_weight.npy, "
                                                 "k_proj_weight.npy and v_proj_weight.npy");
        }
        const std::string k_path = file_in(directory, "k_proj_weight.npy");
        const std::string v_path = file_in(directory, "v_proj_weight.npy");
        input.query.weight = read_floats(q_path, 2);
        input.key.weight = read_floats(k_path, 2);
        input.value.weight = read_floats(v_path, 2);
        require_shape(q_path, input.query.weight, {E, E});
        require_shape(k_path, input.key.weight, {E, input.key.weight.shape(1)});
        require_shape(v_path, input.value.weight, {E, input.value.weight.shape(1)});
    }

    // Biases: PyTorch's bias=False saves neither file; otherwise both.
    const std::string bias_path = file_in(directory, "in_proj_bias.npy");
    const std::string output_bias_path = file_in(directory, "out_proj.bias.npy");
    if (exists(bias_path) != exists(output_bias_path)) {
        throw std::runtime_error(directory + ": has " + (exists(bias_path) ? "in_proj_bias.npy but not out_proj.bias.npy"
                                                                          : "out_proj.bias.npy but not in_proj_bias.npy") +
                                 "; a module has both biases or neither");
    }
    Vector packed_bias = xt::zeros<double>({std::size_t{0}});
    module.output_projection.bias = xt::zeros<double>({std::size_t{0}});
    if (exists(bias_path)) {
        packed_bias = read_floats(bias_path, 1);
        require_shape(bias_path, packed_bias, {3 * E});
        module.output_projection.bias = read_floats(output_bias_path, 1);
        require_shape(output_bias_path, module.output_projection.bias, {E});
    }
    set_packed_biases(input, packed_bias);  // (3E): b_q, b_k, b_v
    module.query_projection = std::move(input.query);
    module.key_projection = std::move(input.key);
    module.value_projection = std::move(input.value);
    module.check();
    return module;
}

}  // namespace mha

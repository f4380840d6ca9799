// Lesson 4: parameters in .npy files named as PyTorch names them.
#include "parameter_files.hpp"

#include <fstream>
#include <stdexcept>

#include <xtensor/xview.hpp>

#include "npy_file.hpp"

namespace mha {
namespace {

std::string file_in(const std::string& directory, const std::string& name) { return directory + "/" + name; }

bool exists(const std::string& path) { return static_cast<bool>(std::ifstream(path)); }

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

void require_shape(const std::string& path, const xt::xarray<double>& values, std::vector<std::size_t> shape) {
    if (std::vector<std::size_t>(values.shape().begin(), values.shape().end()) != shape) {
        std::string wanted = "(";
        for (std::size_t i = 0; i < shape.size(); ++i) {
            wanted += (i ? ", " : "") + std::to_string(shape[i]);
        }
        throw std::runtime_error(path + ": has shape " + shape_string(values) + " but must be " + wanted + ")");
    }
}

}  // namespace

void save_parameters(const MultiHeadAttention& module, const std::string& directory) {
    module.check();
    const std::size_t E = module.embed_dim();
    const bool bias = module.query_projection.has_bias();
    if (module.kdim() == E && module.vdim() == E) {
        xt::xarray<double> packed = xt::zeros<double>({3 * E, E});  // (3E, E): W_q over W_k over W_v
        xt::view(packed, xt::range(0, E), xt::all()) = module.query_projection.weight;
        xt::view(packed, xt::range(E, 2 * E), xt::all()) = module.key_projection.weight;
        xt::view(packed, xt::range(2 * E, 3 * E), xt::all()) = module.value_projection.weight;
        write_npy(file_in(directory, "in_proj_weight.npy"), packed, NpyType::float64);
    } else {
        write_npy(file_in(directory, "q_proj_weight.npy"), module.query_projection.weight, NpyType::float64);
        write_npy(file_in(directory, "k_proj_weight.npy"), module.key_projection.weight, NpyType::float64);
        write_npy(file_in(directory, "v_proj_weight.npy"), module.value_projection.weight, NpyType::float64);
    }
    if (bias) {
        xt::xarray<double> packed_bias = xt::zeros<double>({3 * E});  // (3E): b_q, b_k, b_v
        xt::view(packed_bias, xt::range(0, E)) = module.query_projection.bias;
        xt::view(packed_bias, xt::range(E, 2 * E)) = module.key_projection.bias;
        xt::view(packed_bias, xt::range(2 * E, 3 * E)) = module.value_projection.bias;
        write_npy(file_in(directory, "in_proj_bias.npy"), packed_bias, NpyType::float64);
        write_npy(file_in(directory, "out_proj.bias.npy"), module.output_projection.bias, NpyType::float64);
    }
    write_npy(file_in(directory, "out_proj.weight.npy"), module.output_projection.weight, NpyType::float64);
}

MultiHeadAttention load_parameters(const std::string& directory, std::size_t num_heads) {
    MultiHeadAttention module;
    module.num_heads = num_heads;

    // out_proj.weight (E, E) fixes E, the size everything else is checked against.
    const std::string output_weight_path = file_in(directory, "out_proj.weight.npy");
    const Matrix output_weight = read_floats(output_weight_path, 2);
    const std::size_t E = output_weight.shape(0);
    require_shape(output_weight_path, output_weight, {E, E});
    module.output_projection.weight = output_weight;
    if (num_heads == 0 || E % num_heads != 0) {
        throw std::invalid_argument("load_parameters: embed_dim " + std::to_string(E) + " (from " +
                                    output_weight_path + ") is not divisible by num_heads " +
                                    std::to_string(num_heads));
    }

    const std::string packed_path = file_in(directory, "in_proj_weight.npy");
    if (exists(packed_path)) {
        // PyTorch's packed form: rows [0, E) are W_q, [E, 2E) W_k, [2E, 3E) W_v.
        const Matrix packed = read_floats(packed_path, 2);
        require_shape(packed_path, packed, {3 * E, E});
        module.query_projection.weight = xt::view(packed, xt::range(0, E), xt::all());
        module.key_projection.weight = xt::view(packed, xt::range(E, 2 * E), xt::all());
        module.value_projection.weight = xt::view(packed, xt::range(2 * E, 3 * E), xt::all());
    } else {
        const std::string q_path = file_in(directory, "q_proj_weight.npy");
        if (!exists(q_path)) {
            throw std::runtime_error(directory + ": has neither in_proj_weight.npy nor q_proj_weight.npy, "
                                                 "k_proj_weight.npy and v_proj_weight.npy");
        }
        const std::string k_path = file_in(directory, "k_proj_weight.npy");
        const std::string v_path = file_in(directory, "v_proj_weight.npy");
        module.query_projection.weight = read_floats(q_path, 2);
        module.key_projection.weight = read_floats(k_path, 2);
        module.value_projection.weight = read_floats(v_path, 2);
        require_shape(q_path, module.query_projection.weight, {E, E});
        require_shape(k_path, module.key_projection.weight, {E, module.key_projection.weight.shape(1)});
        require_shape(v_path, module.value_projection.weight, {E, module.value_projection.weight.shape(1)});
    }

    // Biases: PyTorch's bias=False saves neither file; otherwise both.
    const std::string bias_path = file_in(directory, "in_proj_bias.npy");
    const std::string output_bias_path = file_in(directory, "out_proj.bias.npy");
    if (exists(bias_path) != exists(output_bias_path)) {
        throw std::runtime_error(directory + ": has " + (exists(bias_path) ? "in_proj_bias.npy but not out_proj.bias.npy"
                                                                          : "out_proj.bias.npy but not in_proj_bias.npy") +
                                 "; a module has both biases or neither");
    }
    module.query_projection.bias = module.key_projection.bias = module.value_projection.bias =
        module.output_projection.bias = xt::zeros<double>({std::size_t{0}});
    if (exists(bias_path)) {
        const Vector packed_bias = read_floats(bias_path, 1);
        require_shape(bias_path, packed_bias, {3 * E});
        module.query_projection.bias = xt::view(packed_bias, xt::range(0, E));
        module.key_projection.bias = xt::view(packed_bias, xt::range(E, 2 * E));
        module.value_projection.bias = xt::view(packed_bias, xt::range(2 * E, 3 * E));
        module.output_projection.bias = read_floats(output_bias_path, 1);
        require_shape(output_bias_path, module.output_projection.bias, {E});
    }
    module.check();
    return module;
}

}  // namespace mha

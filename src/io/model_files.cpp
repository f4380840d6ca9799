// Lesson 6: the tiny transformer's parameters as .npy files.
#include "io/model_files.hpp"

#include <filesystem>
#include <sstream>
#include <stdexcept>

#include "io/input_file.hpp"
#include "io/npy_file.hpp"
#include "io/output_files.hpp"
#include "io/parameter_files.hpp"

namespace mha {

namespace {

std::string path_in(const std::string& directory, const std::string& name) { return directory + "/" + name; }

Matrix read_matrix(const std::string& path) {
    NpyArray array = read_npy(path);
    if (array.type == NpyType::boolean || array.values.dimension() != 2) {
        throw std::runtime_error(path + ": has shape " + shape_string(array.values) + " (" +
                                 npy_type_name(array.type) + ") but must be a float32 or float64 matrix");
    }
    return array.values;
}

// The whole number after "key": in model.json (which save_transformer writes, one key per line).
std::size_t json_number(const std::string& path, const std::string& text, const std::string& key) {
    const std::size_t at = text.find("\"" + key + "\":");
    if (at == std::string::npos) {
        throw std::runtime_error(path + ": has no \"" + key + "\"");
    }
    std::istringstream stream(text.substr(at + key.size() + 3));
    long long value = -1;
    if (!(stream >> value) || value < 1 || value > 1'000'000) {
        throw std::runtime_error(path + ": \"" + key + "\" is not a whole number from 1 to 1000000");
    }
    return static_cast<std::size_t>(value);
}

}  // namespace

void save_transformer(const AttentionOnlyTransformer& model, const std::string& directory,
                      std::size_t num_kv_heads) {
    std::filesystem::create_directories(directory);
    write_npy(path_in(directory, "token_embedding.weight.npy"), model.token_embedding.table, NpyType::float64);
    write_npy(path_in(directory, "position_embedding.weight.npy"), model.position_embedding.table, NpyType::float64);
    for (std::size_t l = 0; l < model.layers.size(); ++l) {
        const std::string layer = path_in(directory, "layers." + std::to_string(l));
        std::filesystem::create_directories(layer);
        save_parameters(model.layers[l], layer);
    }
    write_npy(path_in(directory, "readout.weight.npy"), model.readout.weight, NpyType::float64);
    std::ostringstream json;
    json << "{\n  \"layers\": " << model.layers.size() << ",\n  \"heads\": " << model.num_heads();
    if (num_kv_heads != 0 && num_kv_heads != model.num_heads()) {
        json << ",\n  \"num_kv_heads\": " << num_kv_heads;  // lesson 7: W_k and W_v rows tied in G groups
    }
    json << ",\n  \"causal\": " << (model.causal ? "true" : "false") << "\n}\n";
    write_file(path_in(directory, "model.json"), json.str());  // every write checked
}

AttentionOnlyTransformer load_transformer(const std::string& directory) {
    const std::string json_path = path_in(directory, "model.json");
    std::stringstream json;
    try {
        json << read_file(json_path, 1 << 16);  // a regular file only: a FIFO is refused, not waited on
    } catch (const std::runtime_error& error) {
        throw std::runtime_error(std::string(error.what()) + " (is this a folder written by mha train?)");
    }
    const std::size_t layers = json_number(json_path, json.str(), "layers");
    const std::size_t heads = json_number(json_path, json.str(), "heads");

    AttentionOnlyTransformer model;
    model.causal = json.str().find("\"causal\": true") != std::string::npos;
    model.token_embedding.table = read_matrix(path_in(directory, "token_embedding.weight.npy"));
    model.position_embedding.table = read_matrix(path_in(directory, "position_embedding.weight.npy"));
    for (std::size_t l = 0; l < layers; ++l) {
        model.layers.push_back(load_parameters(path_in(directory, "layers." + std::to_string(l)), heads));
    }
    const std::string readout_path = path_in(directory, "readout.weight.npy");
    model.readout.weight = read_matrix(readout_path);
    model.readout.bias = xt::zeros<double>({std::size_t{0}});
    // Every table must have d_model columns, and the read-out one row per token.
    const std::size_t d = model.token_embedding.table.shape(1);
    if (model.position_embedding.table.shape(1) != d || model.readout.weight.shape(1) != d ||
        model.readout.weight.shape(0) != model.token_embedding.table.shape(0) || model.layers.front().embed_dim() != d) {
        throw std::runtime_error(directory + ": the shapes do not fit together: token_embedding " +
                                 shape_string(model.token_embedding.table) + ", position_embedding " +
                                 shape_string(model.position_embedding.table) + ", readout " +
                                 shape_string(model.readout.weight) + ", layers of width " +
                                 std::to_string(model.layers.front().embed_dim()));
    }
    return model;
}

}  // namespace mha

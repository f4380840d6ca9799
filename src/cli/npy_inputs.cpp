// The `mha` command's .npy inputs (lesson 4): every file read with its checks,
// each failure one InputError that names the file and what is wrong with it.
#include "cli/npy_inputs.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <system_error>
#include <utility>

#include "cli/command_line.hpp"
#include "core/tensor.hpp"
#include "io/file_status.hpp"
#include "reference/mask.hpp"

namespace mha::cli {

namespace fs = std::filesystem;

std::vector<std::size_t> shape_of(const xt::xarray<double>& values) {
    return std::vector<std::size_t>(values.shape().begin(), values.shape().end());
}

std::string numpy_shape_string(const std::vector<std::size_t>& shape) {
    const std::string text = mha::shape_string(shape);  // "(5)"
    return shape.size() == 1 ? text.substr(0, text.size() - 1) + ",)" : text;
}

namespace {

// The position of element `flat` of a row-major array of this shape, as "(1, 0, 3)".
std::string index_text(std::size_t flat, const std::vector<std::size_t>& shape) {
    return mha::shape_string(mha::unravel_index(flat, shape));
}

// The first element that is not `allowed`, as "holds nan at index (2, 1)"; empty if there is none.
template <class Allowed>
std::string first_refused_value(const xt::xarray<double>& values, Allowed allowed) {
    for (std::size_t i = 0; i < values.size(); ++i) {
        if (!allowed(values.data()[i])) {
            return "holds " + std::to_string(values.data()[i]) + " at index " + index_text(i, shape_of(values));
        }
    }
    return "";
}

}  // namespace

mha::NpyArray read_npy_input(const std::string& path, const std::string& option) {
    std::error_code error;
    if (!fs::exists(path, error)) {
        // Not "no such file" when the system says why it cannot look: a folder on the way
        // that this user may not enter, or symbolic links that lead round in a loop.
        if (error == std::errc::permission_denied) {
            fail(path, "cannot be reached: permission denied on a folder of its path (" + option + ")");
        }
        if (error == std::errc::too_many_symbolic_link_levels) {
            fail(path, "is a loop of symbolic links (" + option + ")");
        }
        const std::string kind = mha::file_kind(path);  // "missing", or a link that leads nowhere
        fail(path, (kind == "missing" ? std::string("no such file") : "is " + kind) + " (" + option + ")");
    }
    if (fs::is_directory(path, error)) {
        fail(path, "is a folder, not a .npy file (" + option + ")");
    }
    const std::string kind = mha::file_kind(path);
    if (kind != "a regular file") {  // a FIFO would block the reader; a device never ends
        fail(path, "is " + kind + ", not a regular file; " + option + " must name a .npy file");
    }
    return mha::read_npy(path);  // its messages start with the path already; it checks the kind again
}

xt::xarray<double> read_sequences(const std::string& path, const std::string& option, std::optional<bool> batched,
                                  mha::NpyType* type) {
    mha::NpyArray array = read_npy_input(path, option);
    if (array.type == mha::NpyType::boolean) {
        fail(path, "holds bool elements, but " + option + " must be float32 or float64");
    }
    const std::vector<std::size_t> shape = shape_of(array.values);
    const std::string shape_given = "has shape " + numpy_shape_string(shape);
    if (batched.has_value() && shape.size() != (*batched ? 3u : 2u)) {
        fail(path, shape_given + " but " + option + " must be " +
                       (*batched ? "3-D (B, S, ·), because the query is (B, L, E)"
                                 : "2-D (S, ·), because the query is unbatched (L, E)"));
    }
    if (shape.size() != 2 && shape.size() != 3) {
        const std::string width = option == "--key" ? "kdim" : "vdim";
        const std::string expected = option == "--query"
                                         ? "(B, L, E), or (L, E) unbatched"
                                         : "(B, S, " + width + "), or (S, ·) when the query is unbatched";
        fail(path, shape_given + " but " + option + " must be " + expected);
    }
    if (std::find(shape.begin(), shape.end(), std::size_t{0}) != shape.end()) {
        fail(path, shape_given + ", with an empty axis; " + option + " needs at least one element along every axis");
    }
    const std::string refused = first_refused_value(array.values, [](double x) { return std::isfinite(x); });
    if (!refused.empty()) {
        fail(path, refused + "; " + option + " must hold finite numbers only");
    }
    if (type != nullptr) {
        *type = array.type;
    }
    return std::move(array.values);
}

xt::xarray<double> read_floats_of_shape(const std::string& path, const std::string& option,
                                        const std::vector<std::size_t>& shape, const std::string& whose,
                                        mha::NpyType* type) {
    mha::NpyArray array = read_npy_input(path, option);
    if (array.type == mha::NpyType::boolean) {
        fail(path, "holds bool elements, but " + option + " must be float32 or float64");
    }
    if (shape_of(array.values) != shape) {
        fail(path, "has shape " + numpy_shape_string(shape_of(array.values)) + " but " + option + " must have " +
                       whose + " = " + numpy_shape_string(shape));
    }
    const std::string refused = first_refused_value(array.values, [](double x) { return std::isfinite(x); });
    if (!refused.empty()) {
        fail(path, refused + "; " + option + " must hold finite numbers only");
    }
    if (type != nullptr) {
        *type = array.type;
    }
    return std::move(array.values);
}

mha::NpyArray read_mask(const std::string& path, const std::string& option) {
    mha::NpyArray mask = read_npy_input(path, option);
    if (mask.type != mha::NpyType::boolean) {
        const std::string refused = first_refused_value(mask.values, mha::is_finite_or_minus_infinity);
        if (!refused.empty()) {
            fail(path, refused + "; a float " + option + " may hold finite numbers and -inf only");
        }
    }
    return mask;
}

}  // namespace mha::cli

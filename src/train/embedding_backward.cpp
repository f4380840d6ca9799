// Lesson 6: the backward pass of an embedding table.
#include "train/embedding_backward.hpp"

#include <stdexcept>
#include <string>

namespace mha {

Matrix embedding_backward(const std::vector<std::size_t>& ids, const Matrix& grad_output, std::size_t table_rows) {
    if (grad_output.shape(0) != ids.size()) {
        throw std::invalid_argument("embedding_backward: grad_output is " + shape_string(grad_output) + " but there are " +
                                    std::to_string(ids.size()) + " ids: it needs one row per id");
    }
    const std::size_t d_model = grad_output.shape(1);
    Matrix grad_table = xt::zeros<double>({table_rows, d_model});  // (table_rows, d_model)
    for (std::size_t i = 0; i < ids.size(); ++i) {
        if (ids[i] >= table_rows) {
            throw std::invalid_argument("embedding_backward: id " + std::to_string(ids[i]) + " at index " +
                                        std::to_string(i) + " is not below the table's " +
                                        std::to_string(table_rows) + " rows");
        }
        for (std::size_t c = 0; c < d_model; ++c) {
            grad_table(ids[i], c) += grad_output(i, c);  // scatter-add: a repeated id adds up
        }
    }
    return grad_table;
}

}  // namespace mha

// Lesson 4: the header of a .npy file, read with a parser of our own.
//
// A .npy file (NumPy's numpy.lib.format) is
//   \x93NUMPY  major minor  header length  header                             data
//   6 bytes    1 + 1 byte   2 bytes (1.0)  "{'descr': '<f8', 'fortran_order':  the elements,
//                           4 bytes (2.0,  False, 'shape': (2, 3), }" padded   nothing after
//                                   3.0)   with spaces, ending in '\n'
// Everything up to the data is read here. The dict is read with a small hand-written
// parser: it walks the text once, left to right, with no recursion and no regular
// expression, so its time and memory grow with the header's length and nothing else,
// and it refuses anything NumPy would not write. What follows the header is
// io/npy_file.cpp's business.
#include "io/npy_header.hpp"

#include <cstdint>
#include <cstring>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace mha {
namespace {

// Text from a file, safe to put in a one-line message: printable ASCII kept,
// anything else as \xNN, at most `longest` characters of it.
std::string printable(const std::string& text, std::size_t longest = 40) {
    std::string result;
    for (std::size_t i = 0; i < text.size() && i < longest; ++i) {
        const auto c = static_cast<unsigned char>(text[i]);
        if (c >= 0x20 && c < 0x7f && c != '\\') {
            result += static_cast<char>(c);
        } else {
            static const char digits[] = "0123456789abcdef";
            result += std::string("\\x") + digits[c >> 4] + digits[c & 15];
        }
    }
    if (text.size() > longest) {
        result += "... (" + std::to_string(text.size()) + " characters)";
    }
    return result;
}

// ---- The fixed start ----

// Magic string, version, header length: where the header text begins and how long it is.
struct Preamble {
    int major = 1;
    std::size_t header_offset = 0;
    std::size_t header_length = 0;
};

Preamble parse_preamble(const char* bytes, std::size_t size) {
    static const char magic[] = "\x93NUMPY";
    if (size < 6 || std::memcmp(bytes, magic, 6) != 0) {
        throw std::runtime_error(size < 6 && std::memcmp(bytes, magic, size) == 0
                                     ? "the header is cut short"
                                     : "it does not start with \\x93NUMPY");
    }
    if (size < 8) {
        throw std::runtime_error("the header is cut short");
    }
    const auto major = static_cast<unsigned char>(bytes[6]), minor = static_cast<unsigned char>(bytes[7]);
    if (major < 1 || major > 3 || minor != 0) {
        throw std::runtime_error("unsupported version " + std::to_string(major) + "." + std::to_string(minor) +
                                 "; NumPy's versions are 1.0, 2.0 and 3.0");
    }
    // The header length: 2 little-endian bytes in version 1.0, 4 in 2.0 and 3.0.
    const std::size_t length_bytes = major == 1 ? 2 : 4;
    if (size < 8 + length_bytes) {
        throw std::runtime_error("the header is cut short");
    }
    std::uint64_t length = 0;
    for (std::size_t i = length_bytes; i-- > 0;) {
        length = length * 256 + static_cast<unsigned char>(bytes[8 + i]);
    }
    if (length > npy_max_header_bytes) {
        throw std::runtime_error("its header length is " + std::to_string(length) + " bytes, more than the " +
                                 std::to_string(npy_max_header_bytes) + " this reader accepts");
    }
    return {major, 8 + length_bytes, static_cast<std::size_t>(length)};
}

// ---- The dict ----

// The dict of the header, read left to right. Every method either moves on or throws.
class HeaderParser {
public:
    HeaderParser(const char* text, std::size_t length) : text_(text), end_(text + length), at_(text) {}

    void parse(NpyHeader& header) {
        bool have_descr = false, have_order = false, have_shape = false;
        skip_spaces();
        expect('{', "the header must be a dict, starting with '{'");
        skip_spaces();
        while (!next_is('}')) {
            const std::string key = string_literal("a key");
            skip_spaces();
            expect(':', "expected ':' after the key '" + printable(key) + "'");
            skip_spaces();
            if (key == "descr") {
                once(have_descr, key);
                if (next_is('[')) {
                    error("'descr' is a list: structured (record) arrays are not supported");
                }
                header.descr = string_literal("the value of 'descr'");
                if (header.descr.empty()) {
                    error("'descr' is empty");
                }
            } else if (key == "fortran_order") {
                once(have_order, key);
                header.fortran_order = boolean();
            } else if (key == "shape") {
                once(have_shape, key);
                header.shape = tuple();
            } else {
                error("unexpected key '" + printable(key) + "'; a .npy header has 'descr', 'fortran_order' and "
                      "'shape' only");
            }
            skip_spaces();
            if (next_is(',')) {
                ++at_;
                skip_spaces();
            } else if (!next_is('}')) {
                error("expected ',' or '}' after the value of '" + key + "'");
            }
        }
        ++at_;  // '}'
        skip_spaces();
        if (at_ != end_) {
            error("unexpected text after the dict");
        }
        if (!have_descr || !have_order || !have_shape) {
            error(std::string("the dict has no '") + (!have_descr ? "descr" : !have_order ? "fortran_order" : "shape") +
                  "'");
        }
    }

private:
    [[noreturn]] void error(const std::string& what) const {
        throw std::runtime_error("header, byte " + std::to_string(at_ - text_) + ": " + what);
    }

    bool next_is(char c) const { return at_ != end_ && *at_ == c; }

    void expect(char c, const std::string& what) {
        if (!next_is(c)) {
            error(what);
        }
        ++at_;
    }

    // Python allows any whitespace between tokens; NumPy writes spaces (the last byte, '\n', is not parsed).
    void skip_spaces() {
        while (at_ != end_ && (*at_ == ' ' || *at_ == '\t')) {
            ++at_;
        }
    }

    void once(bool& seen, const std::string& key) {
        if (seen) {
            error("the key '" + key + "' is given twice");
        }
        seen = true;
    }

    // 'text' or "text", without escapes (NumPy's keys and type strings have none).
    std::string string_literal(const std::string& what) {
        if (!next_is('\'') && !next_is('"')) {
            error("expected " + what + " as a quoted string");
        }
        const char quote = *at_++;
        const char* start = at_;
        while (at_ != end_ && *at_ != quote) {
            if (*at_ == '\\' || *at_ == '\n' || *at_ == '\0') {
                error("unexpected character in " + what);
            }
            ++at_;
        }
        if (at_ == end_) {
            error(what + " is not closed");
        }
        return std::string(start, static_cast<std::size_t>(at_++ - start));
    }

    bool word(const char* expected) {
        const std::size_t length = std::strlen(expected);
        if (static_cast<std::size_t>(end_ - at_) >= length && std::memcmp(at_, expected, length) == 0) {
            at_ += length;
            return true;
        }
        return false;
    }

    bool boolean() {
        if (word("True")) return true;
        if (word("False")) return false;
        error("'fortran_order' must be True or False");
    }

    // A whole number as Python writes it: digits, no sign, no leading zero, no overflow.
    std::size_t whole_number() {
        if (at_ == end_ || *at_ < '0' || *at_ > '9') {
            error("expected a size (a whole number >= 0) in 'shape'");
        }
        if (*at_ == '0' && at_ + 1 != end_ && at_[1] >= '0' && at_[1] <= '9') {
            error("a size in 'shape' has a leading zero");
        }
        std::size_t value = 0;
        while (at_ != end_ && *at_ >= '0' && *at_ <= '9') {
            const auto digit = static_cast<std::size_t>(*at_ - '0');
            if (value > (std::numeric_limits<std::size_t>::max() - digit) / 10) {
                error("a size in 'shape' is too large");
            }
            value = value * 10 + digit;
            ++at_;
        }
        return value;
    }

    // (), (5,), (2, 3) or (2, 3,): a one-element tuple needs its comma, as in Python.
    std::vector<std::size_t> tuple() {
        expect('(', "'shape' must be a tuple, such as (2, 3)");
        std::vector<std::size_t> shape;
        bool comma_after_last = false;
        skip_spaces();
        while (!next_is(')')) {
            if (shape.size() == npy_max_dimensions) {
                error("'shape' has more than " + std::to_string(npy_max_dimensions) + " dimensions");
            }
            shape.push_back(whole_number());
            skip_spaces();
            comma_after_last = next_is(',');
            if (comma_after_last) {
                ++at_;
                skip_spaces();
            } else if (!next_is(')')) {
                error("expected ',' or ')' in 'shape'");
            }
        }
        ++at_;  // ')'
        if (shape.size() == 1 && !comma_after_last) {
            error("'shape' (n) is a number, not a tuple; a 1-D shape is written (n,)");
        }
        return shape;
    }

    const char* text_;
    const char* end_;
    const char* at_;
};

}  // namespace

std::size_t npy_header_end(const char* bytes, std::size_t size) {
    const Preamble preamble = parse_preamble(bytes, size);
    return preamble.header_offset + preamble.header_length;
}

NpyHeader parse_npy_header(const char* bytes, std::size_t size) {
    const Preamble preamble = parse_preamble(bytes, size);
    if (size - preamble.header_offset < preamble.header_length || preamble.header_length == 0) {
        throw std::runtime_error("the header is cut short");
    }
    const char* text = bytes + preamble.header_offset;
    if (text[preamble.header_length - 1] != '\n') {
        throw std::runtime_error("the header is cut short (it does not end with a newline)");
    }
    NpyHeader header;
    header.major_version = preamble.major;
    HeaderParser(text, preamble.header_length - 1).parse(header);
    header.data_offset = preamble.header_offset + preamble.header_length;
    return header;
}

std::string describe_npy_descr(const std::string& descr) {
    static const std::pair<const char*, const char*> known[] = {
        {"<i8", "int64"},   {"<i4", "int32"},    {"<i2", "int16"},   {"|i1", "int8"},
        {"|u1", "uint8"},   {"<u2", "uint16"},   {"<u4", "uint32"},  {"<u8", "uint64"},
        {"<f2", "float16"}, {"<c8", "complex64"}, {"<c16", "complex128"}, {"|O", "Python objects"},
        {">f4", "big-endian float32"}, {">f8", "big-endian float64"}, {"<f4", "float32"}, {"<f8", "float64"},
        {"|b1", "bool"}};
    for (const auto& [name, meaning] : known) {
        if (descr == name) {
            return "'" + descr + "' (" + meaning + ")";
        }
    }
    return "'" + printable(descr) + "'";
}

}  // namespace mha

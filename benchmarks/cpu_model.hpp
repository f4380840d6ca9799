// The benchmarks of lessons 5 and 7 name the processor they ran on in their JSON context, so
// that a table made from them says where its numbers come from.
#pragma once

#include <fstream>
#include <string>

namespace mha::bench {

/// "AMD EPYC 9R45" from /proc/cpuinfo's "model name", or "unknown".
inline std::string cpu_model() {
    std::ifstream cpuinfo("/proc/cpuinfo");
    std::string line;
    while (std::getline(cpuinfo, line)) {
        if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
            const std::string model = line.substr(line.find(':') + 1);
            const auto first = model.find_first_not_of(" \t");
            return first == std::string::npos ? "unknown" : model.substr(first);
        }
    }
    return "unknown";
}

}  // namespace mha::bench

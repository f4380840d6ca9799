// Lesson 5: a parallel loop with std::thread and an atomic counter.
#include "fast/parallel_for.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <stdexcept>
#include <system_error>
#include <thread>
#include <vector>

namespace mha {

void parallel_for(std::size_t threads, std::size_t count, const std::function<void(std::size_t)>& task) {
    if (threads == 0) {
        throw std::invalid_argument("parallel_for: threads is 0; at least one thread must do the work");
    }
    threads = std::min(threads, count);
    if (threads <= 1) {
        for (std::size_t i = 0; i < count; ++i) {
            task(i);
        }
        return;
    }

    std::atomic<std::size_t> next{0};  // the next task nobody has taken yet
    std::exception_ptr first_error;
    std::mutex error_mutex;
    const auto work = [&] {
        try {
            for (std::size_t i = next++; i < count; i = next++) {
                task(i);
            }
        } catch (...) {
            const std::lock_guard<std::mutex> lock(error_mutex);
            if (!first_error) {
                first_error = std::current_exception();
            }
            next = count;  // the other threads stop after their current task
        }
    };
    std::vector<std::thread> helpers;
    helpers.reserve(threads - 1);
    try {
        for (std::size_t t = 1; t < threads; ++t) {
            helpers.emplace_back(work);
        }
    } catch (const std::system_error&) {
        // The system would not start another thread: those running, and this one, do all the tasks.
    }
    work();  // the calling thread is worker 0
    for (std::thread& helper : helpers) {
        helper.join();
    }
    if (first_error) {
        std::rethrow_exception(first_error);
    }
}

}  // namespace mha

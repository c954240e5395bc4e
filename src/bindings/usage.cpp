// The objects in use by a call, shared by every thread (see usage.hpp).
#include "usage.hpp"

#include <algorithm>
#include <mutex>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace cablesim_bindings {

namespace {

std::mutex users_mutex;
// Per object in use: how many calls read it, or -1 while one changes it. Guarded by users_mutex. A few entries at a
// time (one per call in progress), so a vector, which allocates nothing once it has grown.
std::vector<std::pair<const void*, int>> users;

std::vector<std::pair<const void*, int>>::iterator find_user(const void* object) {
    return std::find_if(users.begin(), users.end(), [object](const auto& u) { return u.first == object; });
}

} // namespace

usage::usage(const void* object, access how, const char* what): object_(object), how_(how) {
    const std::lock_guard<std::mutex> lock(users_mutex);
    const auto found = find_user(object);
    if (found == users.end()) {
        users.emplace_back(object, how == access::write ? -1 : 1);
        return;
    }
    if (how == access::write || found->second < 0) {
        throw std::runtime_error(std::string("this ") + what +
                                 " is in use by another thread: a call that changes it (run, finitialize, a setter) "
                                 "runs alone, calls that only read it run together; give each thread its own Model "
                                 "(docs/api.md, \"Threads\")");
    }
    ++found->second;
}

usage::~usage() {
    const std::lock_guard<std::mutex> lock(users_mutex);
    const auto found = find_user(object_);
    if (how_ == access::write || --found->second == 0) {
        *found = users.back();
        users.pop_back();
    }
}

} // namespace cablesim_bindings

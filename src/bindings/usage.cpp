// The objects in use by a call, shared by every thread (see usage.hpp).
#include "usage.hpp"

#include <mutex>
#include <stdexcept>
#include <string>
#include <unordered_map>

namespace cablesim_bindings {

namespace {

std::mutex users_mutex;
// Per object in use: how many calls read it, or -1 while one changes it. Guarded by users_mutex.
std::unordered_map<const void*, int> users;

} // namespace

usage::usage(const void* object, access how, const char* what): object_(object), how_(how) {
    const std::lock_guard<std::mutex> lock(users_mutex);
    int& count = users[object];
    if (how == access::write ? count != 0 : count < 0) {
        throw std::runtime_error(std::string("this ") + what +
                                 " is in use by another thread: a call that changes it (run, finitialize, a setter) "
                                 "runs alone, calls that only read it run together; give each thread its own Model "
                                 "(docs/api.md, \"Threads\")");
    }
    count = how == access::write ? -1 : count + 1;
}

usage::~usage() {
    const std::lock_guard<std::mutex> lock(users_mutex);
    const auto found = users.find(object_);
    if (how_ == access::write || --found->second == 0) users.erase(found);
}

} // namespace cablesim_bindings

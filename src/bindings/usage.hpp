// Calls on one bound object from several threads: any number may read it at once, or one may change it; a call
// that would meet another the other way is refused with RuntimeError. run() steps without the GIL, so another
// thread could otherwise read an engine's traces while they grow, or step it too; on free-threaded Python, with no
// GIL at all, so could any two calls on a Model. Refused, not waited for: a caller waiting with the GIL would stop
// the run it waits for, which takes the GIL every 50 ms to look for Ctrl-C.
#pragma once

#include <type_traits>
#include <utility>

namespace cablesim {
class model;
class simulation;
namespace coreneuron {
class simulation;
} // namespace coreneuron
} // namespace cablesim

namespace cablesim_bindings {

enum class access { read, write };

// Holds one object for one call (`what` names its type in the message).
class usage {
public:
    usage(const void* object, access how, const char* what);
    ~usage();
    usage(const usage&) = delete;
    usage& operator=(const usage&) = delete;

private:
    const void* object_;
    access how_;
};

// The Python name of a bound type, for the message.
template <typename T>
inline constexpr const char* bound_name = "object";
template <>
inline constexpr const char* bound_name<cablesim::model> = "Model";
template <>
inline constexpr const char* bound_name<cablesim::simulation> = "Simulation";
template <>
inline constexpr const char* bound_name<cablesim::coreneuron::simulation> = "CoreNeuronSimulation";

// guarded(f): f with `usage` around the call, a read for a const object, a write otherwise. Every f of one signature
// gives one closure type, so pybind11 compiles its dispatcher once per signature rather than once per method
// (lambdas are passed as function pointers, `+[](...) {...}`, for that).
template <typename R, typename T, typename... A>
auto guarded(R (T::*f)(A...)) {
    return [f](T& self, A... args) -> R {
        const usage held(&self, access::write, bound_name<T>);
        return (self.*f)(std::forward<A>(args)...);
    };
}

template <typename R, typename T, typename... A>
auto guarded(R (T::*f)(A...) const) {
    return [f](const T& self, A... args) -> R {
        const usage held(&self, access::read, bound_name<T>);
        return (self.*f)(std::forward<A>(args)...);
    };
}

template <typename R, typename T, typename... A>
auto guarded(R (*f)(T&, A...)) {
    return [f](T& self, A... args) -> R {
        const usage held(&self, std::is_const_v<T> ? access::read : access::write, bound_name<std::remove_const_t<T>>);
        return f(self, std::forward<A>(args)...);
    };
}

} // namespace cablesim_bindings

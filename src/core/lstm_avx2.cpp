// The LSTM network (lstm_net_impl.hpp) compiled a second time, for CPUs with AVX2 and FMA: the
// Makefile and CMakeLists.txt build this one file with -mavx2 -mfma; lstm.cpp calls it only when
// __builtin_cpu_supports says the CPU has both (docs/lstm.md "CPU kernels").
//
// Nothing compiled here may be shared with the portable objects: an inline function or template
// instantiated both here and elsewhere is a weak (COMDAT) symbol, and the linker keeps one copy
// of it, so AVX2 instructions could end up in code the portable path runs. Hence Eigen's
// namespace is renamed for this file (all of its instantiations get names of their own), the
// network sits in an anonymous namespace and uses no standard-library template, and the only
// exported symbols are the functions of lstm_kernels.hpp. test/tap/cpu_dispatch.sh checks the
// built objects: every function with an AVX instruction is one of this file's own.
#include "lstm_kernels.hpp"

#if defined(__AVX2__) && defined(__FMA__)

#include <new>  // std::align_val_t for Buf (lstm_net_impl.hpp)

#define Eigen cml_avx2_Eigen
#include <Eigen/Core>

namespace cml {
namespace lstm_avx2 {
namespace {
#include "lstm_net_impl.hpp"  // NOLINT(build/include): deliberately inside this namespace
}  // namespace

struct Net {
  Net(int features, int hidden, int layers, std::size_t L, std::size_t cap) : impl(features, hidden, layers, L, cap) {}
  LstmNet<float> impl;
};

bool compiled() { return true; }
Net* create(int features, int hidden, int layers, std::size_t L, std::size_t capacity) {
  return new Net(features, hidden, layers, L, capacity);
}
void destroy(Net* n) { delete n; }
float* input(Net* n) { return n->impl.input(); }
std::size_t input_stride(const Net* n) { return n->impl.input_stride(); }
const float* pred(const Net* n) { return n->impl.pred(); }
void forward(Net* n, const float* theta, std::size_t b) { n->impl.forward(theta, b); }
void backward(Net* n, const float* theta, const float* dpred, std::size_t b, float* grad) {
  n->impl.backward(theta, dpred, b, grad);
}

}  // namespace lstm_avx2
}  // namespace cml

#else  // built without -mavx2 -mfma (another architecture or compiler): portable kernels only

namespace cml {
namespace lstm_avx2 {
struct Net {};
bool compiled() { return false; }
Net* create(int, int, int, std::size_t, std::size_t) { return nullptr; }
void destroy(Net*) {}
float* input(Net*) { return nullptr; }
std::size_t input_stride(const Net*) { return 0; }
const float* pred(const Net*) { return nullptr; }
void forward(Net*, const float*, std::size_t) {}
void backward(Net*, const float*, const float*, std::size_t, float*) {}
}  // namespace lstm_avx2
}  // namespace cml

#endif

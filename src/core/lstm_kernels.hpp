// The AVX2+FMA build of the LSTM network (lstm_avx2.cpp), behind a plain C-like interface so
// that lstm.cpp (portable) and lstm_avx2.cpp share no inline or template code: see
// lstm_net_impl.hpp and docs/lstm.md "CPU kernels". Internal to src/core/lstm*.cpp.
#pragma once

#include <cstddef>

namespace cml {
namespace lstm_avx2 {

struct Net;  // an LstmNet<float> of lstm_net_impl.hpp compiled with -mavx2 -mfma

// False when this build has no AVX2 kernels (a compiler or architecture without -mavx2 -mfma);
// the functions below must then not be called.
bool compiled();
// Call only on a CPU with AVX2 and FMA (lstm.cpp checks). Throws std::bad_alloc.
Net* create(int features, int hidden, int layers, std::size_t L, std::size_t capacity);
void destroy(Net* n);
float* input(Net* n);
std::size_t input_stride(const Net* n);
const float* pred(const Net* n);
void forward(Net* n, const float* theta, std::size_t b);
void backward(Net* n, const float* theta, const float* dpred, std::size_t b, float* grad);

}  // namespace lstm_avx2
}  // namespace cml

// The LSTM network's forward and backward passes (Eigen), shared by two translation units:
//   lstm.cpp         the portable build (SSE2, the x86-64 baseline), inside an anonymous namespace;
//   lstm_avx2.cpp    the same source compiled with -mavx2 -mfma, inside an anonymous namespace
//                    and with Eigen's namespace renamed (#define Eigen cml_avx2_Eigen), chosen at
//                    run time on CPUs with AVX2 and FMA (docs/lstm.md "CPU kernels").
// Deliberately no include guard and no namespace of its own: the includer puts it in its own
// anonymous namespace. It must use nothing with external linkage that the portable build also
// instantiates (no std:: containers or algorithms: the linker keeps one copy of such inline
// functions, which could then carry AVX2 instructions into the portable path); memory is held by
// Buf below, loops replace std::fill/min/max. test/tap/cpu_dispatch.sh checks the built objects.
//
// Layout of the computation (one mini-batch of b sequences, L steps, F features, H hidden units):
// every matrix is column-major with one column per (time step, sequence), column t*b + k for
// sequence k at step t, so the b columns of one step are contiguous. Per layer:
//   G  (4H x L*b)  gate pre-activations = W_in * input (one GEMM for all steps), then per step
//                  += W_rec * h(t-1) (one GEMM per step), activated in place (i, f, g, o rows);
//                  the backward pass overwrites it with the gate gradients.
//   Hs, C, TC (H x L*b)  h(t), c(t), tanh(c(t)).
// The backward pass runs one GEMM per step (dh(t-1) = W_rec^T * dG(t)) and, after the time loop,
// one GEMM each for the weight gradients of all steps (dW_in = dG * input^T,
// dW_rec = dG(1..L-1) * h(0..L-2)^T) and for the gradient of the layer's input (W_in^T * dG).
// The network is a template on the scalar: float for training and prediction, double for the
// gradient check in the unit tests (portable build only).

// Alignment of every workspace buffer (and of the gradient the caller passes): Eigen's AVX code
// peels scalar iterations up to the first 32-byte boundary of a destination, and its scalar and
// packet paths round differently (logistic, tanh, sums), so results would depend on where malloc
// put a buffer (16-byte aligned only). A fixed 64-byte alignment makes every pass deterministic.
constexpr std::size_t kBufAlign = 64;

// A zero-initialized, kBufAlign-aligned heap array (the aligned global operator new/delete, which
// are not inline: nothing from the standard library is instantiated here).
template <typename S>
class Buf {
 public:
  Buf() = default;
  Buf(const Buf&) = delete;
  Buf& operator=(const Buf&) = delete;
  ~Buf() { release(); }
  void resize(std::size_t n) {
    if (n == 0) n = 1;
    S* q = static_cast<S*>(::operator new(n * sizeof(S), static_cast<std::align_val_t>(kBufAlign)));
    for (std::size_t i = 0; i < n; ++i) q[i] = S(0);
    release();
    p_ = q;
  }
  S* data() { return p_; }
  const S* data() const { return p_; }

 private:
  void release() {
    if (p_ != nullptr) ::operator delete(p_, static_cast<std::align_val_t>(kBufAlign));
    p_ = nullptr;
  }
  S* p_ = nullptr;
};


struct LayerOffsets {
  std::size_t w_in, w_rec, bias, in;  // in = input size of the layer
};

constexpr int kMaxLayers = 2;  // LstmParams::validate allows 1..2

struct Layout {
  int F = 0, H = 0, NL = 1;
  LayerOffsets layers[kMaxLayers] = {};
  std::size_t head_w = 0, head_b = 0, total = 0;
  // features, hidden, layers (1..kMaxLayers; more are not laid out)
  Layout(int features, int hidden, int num_layers) : F(features), H(hidden), NL(num_layers < kMaxLayers ? num_layers : kMaxLayers) {
    std::size_t off = 0;
    const std::size_t h = static_cast<std::size_t>(H);
    for (int l = 0; l < NL; ++l) {
      LayerOffsets lo{};
      lo.in = l == 0 ? static_cast<std::size_t>(F) : h;
      lo.w_in = off;
      off += 4 * h * lo.in;
      lo.w_rec = off;
      off += 4 * h * h;
      lo.bias = off;
      off += 4 * h;
      layers[l] = lo;
    }
    head_w = off;
    off += h;
    head_b = off;
    off += 1;
    total = off;
  }
};

// --- the network ------------------------------------------------------------------------------

template <typename S>
class LstmNet {
 public:
  using Mat = Eigen::Matrix<S, Eigen::Dynamic, Eigen::Dynamic>;
  using Vec = Eigen::Matrix<S, Eigen::Dynamic, 1>;
  using Arr = Eigen::Array<S, Eigen::Dynamic, 1>;
  using MapM = Eigen::Map<Mat>;
  using CMapM = Eigen::Map<const Mat>;
  using MapV = Eigen::Map<Vec>;
  using CMapV = Eigen::Map<const Vec>;
  using MapA = Eigen::Map<Arr>;
  using CMapA = Eigen::Map<const Arr>;

  // Scalars of workspace per sequence: per step Z (In + H), G (4H), C and TC (2H) per layer, dIn
  // (H) with two layers; per sequence h(L-1) and the four step buffers, dZ (2H) and the prediction.
  // (The lstm.cpp's capacity_for turns this into sequences per pass.)
  static std::size_t scalars_per_sequence(int features, int hidden, int layers, std::size_t L) {
    const std::size_t H = static_cast<std::size_t>(hidden);
    const std::size_t per_step = static_cast<std::size_t>(features) + 7 * H + (layers > 1 ? 9 * H : 0);
    return per_step * L + 7 * H + 1;
  }

  LstmNet(int features, int hidden, int layers, std::size_t L, std::size_t cap)
      : lay_(features, hidden, layers), L_(L), cap_(cap) {
    const std::size_t H = static_cast<std::size_t>(hidden);
    const std::size_t cols = L * cap;
    for (int l = 0; l < lay_.NL; ++l) {
      Z_[l].resize((lay_.layers[l].in + H) * cols);
      G_[l].resize(4 * H * cols);
      C_[l].resize(H * cols);
      TC_[l].resize(H * cols);
    }
    if (lay_.NL > 1) {
      dIn_.resize(H * cols);
      dZ_.resize(2 * H * cap);
    }
    hlast_.resize(H * cap);
    dh_.resize(H * cap);
    dc_.resize(H * cap);
    dhrec_.resize(H * cap);
    tmp_.resize(H * cap);
    pred_.resize(cap);
  }

  std::size_t capacity() const { return cap_; }
  // Input of b sequences: column t*b + k (step t of sequence k) starts at input() + col *
  // input_stride() and holds the F features; the rest of the column belongs to the network.
  S* input() { return Z_[0].data(); }
  std::size_t input_stride() const { return static_cast<std::size_t>(lay_.F + lay_.H); }
  const S* pred() const { return pred_.data(); }

  // Forward pass for b <= capacity() sequences already in input(); predictions in pred().
  void forward(const S* theta, std::size_t b) {
    const Eigen::Index H = lay_.H, Lb = static_cast<Eigen::Index>(L_ * b), B = static_cast<Eigen::Index>(b);
    const int top = lay_.NL - 1;
    for (int l = 0; l < lay_.NL; ++l) {
      const LayerOffsets& o = lay_.layers[l];
      const Eigen::Index In = static_cast<Eigen::Index>(o.in), K = In + H;
      // [W_in | W_rec] is one column-major 4H x (In + H) matrix in theta.
      CMapM W(theta + o.w_in, 4 * H, K);
      const S* bias = theta + o.bias;
      MapM Z(Z_[l].data(), K, Lb), G(G_[l].data(), 4 * H, Lb);
      S* const C = C_[l].data();
      S* const TC = TC_[l].data();
      S* const Zup = l < top ? Z_[l + 1].data() : nullptr;
      const Eigen::Index Kup = 2 * H;
      CMapA b_if(bias, 2 * H), b_g(bias + 2 * H, H), b_o(bias + 3 * H, H);
      Z.block(In, 0, H, B).setZero();  // h(-1) = 0
      for (std::size_t t = 0; t < L_; ++t) {
        const Eigen::Index c0 = static_cast<Eigen::Index>(t * b);
        if (t == 0) {
          G.middleCols(c0, B).noalias() = W.leftCols(In) * Z.block(0, c0, In, B);
        } else {
          G.middleCols(c0, B).noalias() = W * Z.middleCols(c0, B);
        }
        // Gate activations, cell and hidden state, one sequence (column) at a time.
        for (Eigen::Index k = 0; k < B; ++k) {
          const Eigen::Index col = c0 + k;
          S* g = G.data() + col * 4 * H;
          MapA gif(g, 2 * H), gg(g + 2 * H, H), go(g + 3 * H, H);
          gif = (gif + b_if).logistic();
          gg = (gg + b_g).tanh();
          go = (go + b_o).logistic();
          MapA c(C + col * H, H), tc(TC + col * H, H);
          if (t > 0) {
            c = gif.segment(H, H) * CMapA(C + (col - B) * H, H) + gif.head(H) * gg;
          } else {
            c = gif.head(H) * gg;
          }
          tc = c.tanh();
          S* h = t + 1 < L_ ? Z.data() + (col + B) * K + In : (l == top ? hlast_.data() + k * H : nullptr);
          if (h != nullptr) MapA(h, H) = go * tc;
          if (Zup != nullptr) {
            MapA up(Zup + col * Kup, H);
            if (h != nullptr) {
              up = CMapA(h, H);
            } else {
              up = go * tc;
            }
          }
        }
      }
    }
    CMapM hl(hlast_.data(), H, B);
    CMapV hw(theta + lay_.head_w, H);
    MapV pred(pred_.data(), B);
    pred.noalias() = hl.transpose() * hw;
    pred.array() += theta[lay_.head_b];
  }

  // Backward pass after forward(theta, b): dpred holds dLoss/dpred for the b sequences; the
  // gradient is added to grad (same layout as theta).
  void backward(const S* theta, const S* dpred_ptr, std::size_t b, S* grad) {
    const Eigen::Index H = lay_.H, Lb = static_cast<Eigen::Index>(L_ * b), B = static_cast<Eigen::Index>(b);
    const int top = lay_.NL - 1;
    CMapV dpred(dpred_ptr, B);
    CMapV hw(theta + lay_.head_w, H);
    {
      CMapM hl(hlast_.data(), H, B);
      MapV ghw(grad + lay_.head_w, H);
      ghw.noalias() += hl * dpred;
      grad[lay_.head_b] += dpred.sum();
    }
    MapM dh(dh_.data(), H, B), dhrec(dhrec_.data(), H, B);
    S* const dc = dc_.data();
    S* const tmp = tmp_.data();
    for (int l = top; l >= 0; --l) {
      const LayerOffsets& o = lay_.layers[l];
      const Eigen::Index In = static_cast<Eigen::Index>(o.in), K = In + H;
      CMapM W(theta + o.w_in, 4 * H, K);
      MapM Z(Z_[l].data(), K, Lb), G(G_[l].data(), 4 * H, Lb);
      const S* const C = C_[l].data();
      const S* const TC = TC_[l].data();
      MapM gW(grad + o.w_in, 4 * H, K);
      MapV gb(grad + o.bias, 4 * H);
      for (Eigen::Index i = 0; i < H * B; ++i) dc[i] = S(0);
      for (std::size_t tt = L_; tt-- > 0;) {
        const Eigen::Index c0 = static_cast<Eigen::Index>(tt * b);
        // dh = gradient reaching h(t): from the head (top layer, last step), from the layer
        // above (dIn) and from step t+1 (dhrec).
        const bool last = tt + 1 == L_;
        if (l == top) {
          if (last) dh.noalias() = hw * dpred.transpose();
        } else {
          if (last) {
            dh = MapM(dIn_.data(), H, Lb).middleCols(c0, B);
          } else {
            dh = dhrec + MapM(dIn_.data(), H, Lb).middleCols(c0, B);
          }
        }
        const S* dhp = (l == top && !last) ? dhrec.data() : dh.data();
        for (Eigen::Index k = 0; k < B; ++k) {
          const Eigen::Index col = c0 + k;
          S* g = G.data() + col * 4 * H;
          MapA gi(g, H), gf(g + H, H), gg(g + 2 * H, H), go(g + 3 * H, H);
          CMapA tc(TC + col * H, H), dhk(dhp + k * H, H);
          MapA dck(dc + k * H, H), tk(tmp + k * H, H);
          dck += dhk * go * (S(1) - tc.square());
          go = dhk * tc * go * (S(1) - go);    // d pre-activation of o
          tk = dck * gi;                        // dc * i, for g
          gi = dck * gg * gi * (S(1) - gi);     // d pre-activation of i
          gg = tk * (S(1) - gg.square());       // d pre-activation of g
          if (tt > 0) {
            tk = gf;
            gf = dck * CMapA(C + (col - B) * H, H) * gf * (S(1) - gf);  // d pre-activation of f
            dck *= tk;                                                    // dc(t-1)
          } else {
            gf.setZero();
          }
        }
        auto dGt = G.middleCols(c0, B);
        if (l > 0) {
          // One GEMM for the gradients of both parts of this step's input: the layer below's
          // h(t) (rows 0..In) and this layer's h(t-1) (rows In..).
          MapM dZ(dZ_.data(), K, B);
          dZ.noalias() = W.transpose() * dGt;
          MapM(dIn_.data(), H, Lb).middleCols(c0, B) = dZ.topRows(In);
          if (tt > 0) dhrec = dZ.bottomRows(H);
        } else if (tt > 0) {
          dhrec.noalias() = W.rightCols(H).transpose() * dGt;
        }
        // Weight gradient of this step while dG(t) is still in cache (h(-1) = 0 at t = 0).
        if (tt > 0) {
          gW.noalias() += dGt * Z.middleCols(c0, B).transpose();
        } else {
          gW.leftCols(In).noalias() += dGt * Z.block(0, c0, In, B).transpose();
        }
        gb.noalias() += dGt.rowwise().sum();
      }
    }
  }

 private:
  Layout lay_;
  std::size_t L_, cap_;
  Buf<S> dIn_, dZ_, hlast_, dh_, dc_, dhrec_, tmp_, pred_;
  Buf<S> Z_[kMaxLayers], G_[kMaxLayers], C_[kMaxLayers], TC_[kMaxLayers];
};

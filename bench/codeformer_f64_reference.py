"""
Float64 reference of a CodeFormer forward pass with w = 1 and adain = False (the inpainting call), written
with numpy from the official module definitions (basicsr/archs/vqgan_arch.py, codeformer_arch.py) so the
float32 results of PyTorch and of this product's graph can both be measured against the exact value.

    python3 bench/codeformer_f64_reference.py DUMP_DIR FIXTURE_DIR

DUMP_DIR holds arch.json and w/<tensor>.bin (float32) as bench/codeformer-f64.ts writes them; the code
indices come from the fixture's top_idx.bin (PyTorch's and the graph's agree), so the transformer is not
recomputed: encoder, code lookup, generator and fuse blocks are. Writes DUMP_DIR/out64.bin (float64) and
prints the lq_feat / out differences to the fixture's PyTorch outputs.
"""
import json, numpy as np, sys
DUMP, D = sys.argv[1], sys.argv[2].rstrip('/') + '/'
A = json.load(open(DUMP + '/arch.json'))
def W(n): return np.fromfile(f'{DUMP}/w/{n}.bin', dtype=np.float32).astype(np.float64)
def conv(x, p, cout, cin, k=3, stride=1, pad=None, bias=True, w=None, b=None):
    w = (W(p + '.weight') if w is None else w).reshape(cout, cin, k, k)
    if pad is None: pad = ((k - 1) // 2,) * 4  # top, bottom, left, right
    xp = np.pad(x, ((0, 0), (pad[0], pad[1]), (pad[2], pad[3])))
    H = (xp.shape[1] - k) // stride + 1; Wd = (xp.shape[2] - k) // stride + 1
    out = np.zeros((cout, H * Wd))
    for dy in range(k):
        for dx in range(k):
            sl = xp[:, dy:dy + (H - 1) * stride + 1:stride, dx:dx + (Wd - 1) * stride + 1:stride].reshape(cin, -1)
            out += w[:, :, dy, dx] @ sl
    out = out.reshape(cout, H, Wd)
    if bias: out += (W(p + '.bias') if b is None else b)[:, None, None]
    return out
def gn(x, p, G=32, gamma=None, beta=None):
    C = x.shape[0]; r = x.reshape(G, -1); m = r.mean(1, keepdims=True); v = ((r - m) ** 2).mean(1, keepdims=True)
    y = ((r - m) / np.sqrt(v + 1e-6)).reshape(x.shape)
    g = W(p + '.weight') if gamma is None else gamma; b = W(p + '.bias') if beta is None else beta
    return y * g[:, None, None] + b[:, None, None]
def swish(x): return x / (1 + np.exp(-x))
def res(x, p, cin, cout):
    h = conv(swish(gn(x, p + '.norm1')), p + '.conv1', cout, cin)
    h = conv(swish(gn(h, p + '.norm2')), p + '.conv2', cout, cout)
    if cin != cout: x = conv(x, p + '.conv_out', cout, cin, k=1)
    return h + x
def attn(x, p, c):
    h = gn(x, p + '.norm'); C, H, Wd = h.shape
    q = conv(h, p + '.q', c, c, 1).reshape(c, -1).T; k = conv(h, p + '.k', c, c, 1).reshape(c, -1); v = conv(h, p + '.v', c, c, 1).reshape(c, -1)
    w_ = q @ k * c ** -0.5; w_ = np.exp(w_ - w_.max(1, keepdims=True)); w_ /= w_.sum(1, keepdims=True)
    h = (v @ w_.T).reshape(c, H, Wd)
    return x + conv(h, p + '.proj_out', c, c, 1)
def block(x, b):
    k = b['kind']; p = b['prefix']
    if k == 'conv': return conv(x, p, b['outCh'], b['inCh'])
    if k == 'norm': return gn(x, p)
    if k == 'res': return res(x, p, b['inCh'], b['outCh'])
    if k == 'attn': return attn(x, p, b['ch'])
    if k == 'down': return conv(x, p + '.conv', b['ch'], b['ch'], stride=2, pad=(0, 1, 0, 1))
    if k == 'up': return conv(x.repeat(2, 1).repeat(2, 2), p + '.conv', b['ch'], b['ch'])
def fuse(enc, dec, size, c):
    p = f'fuse_convs_dict.{size}'
    e = res(np.concatenate([enc, dec], 0), p + '.encode_enc', 2 * c, c)
    lr = lambda t: np.where(t > 0, t, 0.2 * t)
    scale = conv(lr(conv(e, p + '.scale.0', c, c)), p + '.scale.2', c, c)
    shift = conv(lr(conv(e, p + '.shift.0', c, c)), p + '.shift.2', c, c)
    return dec + 1.0 * (dec * scale + shift)
x = np.fromfile(D + 'x.bin', dtype=np.float32).astype(np.float64).reshape(3, 512, 512)
enc = {}
for i, b in enumerate(A['encoder']):
    x = block(x, b)
    for f in A['fuse']:
        if f['encoderIndex'] == i: enc[f['size']] = x.copy()
lq = x
top = np.fromfile(D + 'top_idx.bin', dtype=np.int32)
code = W('quantize.embedding.weight').reshape(A['codebookSize'], A['embDim'])[top]  # [256, E]
x = code.reshape(16, 16, -1).transpose(2, 0, 1)
for i, b in enumerate(A['generator']):
    x = block(x, b)
    for f in A['fuse']:
        if f['generatorIndex'] == i: x = fuse(enc[f['size']], x, f['size'], f['ch'])
x.astype(np.float64).tofile(DUMP + '/out64.bin')
lqref = np.fromfile(D + 'lq_feat.bin', dtype=np.float32).reshape(lq.shape)
print('lq_feat: float64 vs torch', np.abs(lq - lqref).max())
ref = np.fromfile(D + 'out.bin', dtype=np.float32).reshape(x.shape)
print('out: float64 vs torch', np.abs(x - ref).max(), 'range', x.min(), x.max())

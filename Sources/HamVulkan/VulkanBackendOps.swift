import HamCore

/// The ops: each resolves its tensors to (binding, element offset), picks the pipeline for the
/// dtypes involved and records dispatches. Sizes and offsets travel as push constants.
extension VulkanBackend {
    public typealias T = Tensor<VulkanBuffer>

    /// Records `kernel` with specialization constants, or keeps the failure.
    private func run(_ kernel: Kernel, _ constants: (Int32, Int32, Int32) = (0, 0, 0),
                     _ bindings: Bindings, _ push: PushConstants, groups: Int, groupsY: Int = 1) {
        do {
            let interface = try library.interface(kernel)
            guard bindings.count == interface.bindings, push.count * 4 == interface.pushConstantBytes else {
                throw VulkanError.unsupported("\(kernel) was given \(bindings.count) buffers and \(push.count) push-constant words; its shader declares \(interface.bindings) and \(interface.pushConstantBytes / 4)")
            }
            let pipeline = try library.pipeline(kernel, constants.0, constants.1, constants.2)
            try stream.dispatch(pipeline, bindings, push, groups: groups, groupsY: groupsY, binder: binder)
        } catch {
            fail(error)
        }
    }

    private func blocks(_ count: Int) -> Int { (count + Kernel.workgroupSize - 1) / Kernel.workgroupSize }

    /// The halfword where a binding's block scales start, for the block types whose scales are
    /// stored after the blocks (`VulkanBackend.scalesLast`).
    private func scalesHalfword(_ tensor: T, piece: Int) -> Int {
        guard tensor.dtype.unalignedScaleOffset != nil else { return 0 }
        let blocks = tensor.buffer.pieces[piece].elementCount / tensor.dtype.blockElements
        return blocks * (tensor.dtype.blockBytes - 2) / 2
    }

    /// Block types are read by the products and the embedding only.
    private func requireElementWise(_ tensors: T..., op: String) -> Bool {
        for t in tensors where t.dtype.blockElements != 1 {
            fail(VulkanError.unsupported("\(op) of a \(t.dtype) tensor (block types are for matrices of linear layers and embeddings)"))
            return false
        }
        return true
    }

    private func requireF32(_ tensors: T..., op: String) -> Bool {
        for t in tensors where t.dtype != .f32 {
            fail(VulkanError.unsupported("\(op) needs f32 activations, got \(t.dtype)"))
            return false
        }
        return true
    }

    public func embed(table: T, ids: T, out: T) {
        locked {
            guard ids.count > 0, table.cols > 0, requireF32(out, op: "embed"),
                  let idAt = locate(ids, "ids"), let outAt = locate(out, "output") else { return }
            // One dispatch per binding of the table, each writing the ids among its rows.
            forEachPiece(of: table, "embedding table") { piece, firstRow, rows, localOffset in
                var b = Bindings()
                b.append(entry(table.buffer, piece: piece))
                b.append(entry(idAt.buffer, piece: idAt.piece))
                b.append(entry(outAt.buffer, piece: outAt.piece, writes: true))
                run(.embed, (table.dtype.kernelCode, 0, 0), b,
                    PushConstants(ids.count, table.cols, localOffset, firstRow, firstRow + rows, idAt.offset, outAt.offset, out.cols,
                                  scalesHalfword(table, piece: piece)),
                    groups: blocks(ids.count * table.cols))
            }
        }
    }

    public func rmsNorm(_ x: T, weight: T, eps: Float, out: T) {
        locked {
            guard x.rows > 0, requireF32(x, out, op: "rms_norm"), requireElementWise(weight, op: "rms_norm"), let xAt = locate(x, "input"),
                  let gainAt = locate(weight, "gain"), let outAt = locate(out, "output") else { return }
            var b = Bindings()
            b.append(entry(xAt.buffer, piece: xAt.piece))
            b.append(entry(gainAt.buffer, piece: gainAt.piece))
            b.append(entry(outAt.buffer, piece: outAt.piece, writes: true))
            var push = PushConstants(x.rows, x.cols, xAt.offset, gainAt.offset, outAt.offset)
            push.append(eps)
            run(.rmsNorm, (weight.dtype.kernelCode, 0, 0), b, push, groups: x.rows)
        }
    }

    public func linear(_ x: T, weight: T, bias: T?, out: T, accumulate: Bool) {
        locked {
            let n = x.rows, k = x.cols
            guard n > 0, weight.rows > 0, requireF32(x, out, op: "linear"),
                  let xAt = locate(x, "input"), let outAt = locate(out, "output") else { return }
            var biasAt: Location?
            if let bias {
                guard let located = locate(bias, "bias") else { return }
                biasAt = located
            }
            let streaming = n <= Kernel.matvecMaxRows
            forEachPiece(of: weight, "weight") { piece, firstRow, rows, localOffset in
                var b = Bindings()
                b.append(entry(xAt.buffer, piece: xAt.piece))
                b.append(entry(weight.buffer, piece: piece))
                if let biasAt { b.append(entry(biasAt.buffer, piece: biasAt.piece)) } else { b.append(placeholderEntry) }
                b.append(entry(outAt.buffer, piece: outAt.piece, writes: true))
                var flags = (biasAt != nil ? 1 : 0) | (accumulate ? 2 : 0)
                // 16-byte loads need the rows of x and of the weight to start on 16 bytes.
                let lanes = weight.dtype == .f32 ? 4 : 8
                if streaming && !weight.dtype.isQuantized && k % lanes == 0 && localOffset % lanes == 0 && xAt.offset % 4 == 0 { flags |= 4 }
                let push = PushConstants(n, k, rows, xAt.offset, localOffset, (biasAt?.offset ?? 0) + firstRow,
                                         outAt.offset + firstRow, out.cols, flags, scalesHalfword(weight, piece: piece))
                let constants = (weight.dtype.kernelCode, (bias?.dtype ?? .f32).kernelCode)
                if streaming {
                    let rowsPerGroup = Kernel.workgroupSize / matvecThreadsPerRow
                    run(.matvec, (constants.0, constants.1, Int32(matvecThreadsPerRow)), b, push,
                        groups: (rows + rowsPerGroup - 1) / rowsPerGroup)
                } else {
                    let tile = Kernel.matmulTile
                    run(.matmul, (constants.0, constants.1, 0), b, push,
                        groups: (rows + tile.cols - 1) / tile.cols, groupsY: (n + tile.rows - 1) / tile.rows)
                }
            }
        }
    }

    /// Calls `body(piece, firstRow, rows, elementOffsetInPiece)` for each binding holding rows
    /// of `tensor` (one call unless a weight was split at upload).
    private func forEachPiece(of tensor: T, _ role: String, _ body: (Int, Int, Int, Int) -> Void) {
        let buffer = tensor.buffer
        if buffer.pieces.count == 1 {
            body(0, 0, tensor.rows, tensor.offset)
            return
        }
        let cols = max(tensor.cols, 1)
        var row = 0
        while row < tensor.rows {
            let element = tensor.offset + row * cols
            guard let index = buffer.piece(containing: element) else {
                return fail(VulkanError.unsupported("the \(role) tensor reaches beyond its buffer"))
            }
            let piece = buffer.pieces[index]
            let local = element - piece.firstElement
            let rowsHere = min(tensor.rows - row, (piece.elementCount - local) / cols)
            guard rowsHere > 0 else {
                return fail(VulkanError.unsupported("the \(role) tensor's rows straddle two buffer bindings"))
            }
            body(index, row, rowsHere, local)
            row += rowsHere
        }
    }

    public func rope(_ x: T, heads: Int, cos: T, sin: T, pairing: RoPEPairing) {
        locked {
            let half = cos.cols
            guard x.rows > 0, half > 0, heads > 0, requireF32(x, cos, sin, op: "rope"),
                  let xAt = locate(x, "input"), let cosAt = locate(cos, "cos"), let sinAt = locate(sin, "sin") else { return }
            var b = Bindings()
            b.append(entry(xAt.buffer, piece: xAt.piece, writes: true))
            b.append(entry(cosAt.buffer, piece: cosAt.piece))
            b.append(entry(sinAt.buffer, piece: sinAt.piece))
            run(.rope, (0, 0, 0), b, PushConstants(x.rows, heads, half, xAt.offset, x.cols, cosAt.offset, sinAt.offset, Int(pairing.rawValue)),
                groups: blocks(x.rows * heads * half))
        }
    }

    public func attention(q: T, keys: T, values: T, heads: Int, kvHeads: Int, scale: Float, layout: AttentionLayout<VulkanBuffer>, out: T) {
        locked {
            guard q.rows > 0, heads > 0, kvHeads > 0, requireF32(q, out, op: "attention") else { return }
            let headDim = q.cols / heads
            guard headDim <= Kernel.attentionMaxHeadDim else {
                return fail(VulkanError.unsupported("attention head dimension \(headDim) is above \(Kernel.attentionMaxHeadDim)"))
            }
            guard keys.dtype == values.dtype, keys.dtype == .f32 || keys.dtype == .f16 else {
                return fail(VulkanError.unsupported("attention over a \(keys.dtype) KV cache (f32 or f16)"))
            }
            guard let qAt = locate(q, "query"), let kAt = locate(keys, "keys"), let vAt = locate(values, "values"),
                  let outAt = locate(out, "output"), let rowsAt = locate(layout.rows, "attention rows"),
                  let blocksAt = locate(layout.blocks, "block table") else { return }
            var b = Bindings()
            b.append(entry(qAt.buffer, piece: qAt.piece))
            b.append(entry(kAt.buffer, piece: kAt.piece))
            b.append(entry(vAt.buffer, piece: vAt.piece))
            b.append(entry(outAt.buffer, piece: outAt.piece, writes: true))
            b.append(entry(rowsAt.buffer, piece: rowsAt.piece))
            b.append(entry(blocksAt.buffer, piece: blocksAt.piece))
            var push = PushConstants(q.rows, heads, heads / kvHeads, headDim, qAt.offset, q.cols,
                                     kAt.offset, vAt.offset, keys.cols, outAt.offset, out.cols)
            push.append(scale)
            push.append(rowsAt.offset)
            push.append(blocksAt.offset)
            push.append(layout.blockSize)
            run(.attention, (keys.dtype.kernelCode, 0, 0), b, push, groups: q.rows * heads)
        }
    }

    public func scatterRows(_ src: T, indices: T, into dst: T) {
        locked {
            guard src.rows > 0, src.cols > 0, requireF32(src, op: "scatter_rows") else { return }
            guard dst.dtype == .f32 || dst.dtype == .f16 else {
                return fail(VulkanError.unsupported("scatter_rows into a \(dst.dtype) tensor (f32 or f16)"))
            }
            if dst.dtype == .f16 && (dst.cols % 2 != 0 || dst.offset % 2 != 0) {
                return fail(VulkanError.unsupported("scatter_rows into f16 rows of odd length or at an odd element"))
            }
            guard let srcAt = locate(src, "source"), let indexAt = locate(indices, "indices"),
                  let dstAt = locate(dst, "destination") else { return }
            var b = Bindings()
            b.append(entry(srcAt.buffer, piece: srcAt.piece))
            b.append(entry(indexAt.buffer, piece: indexAt.piece))
            b.append(entry(dstAt.buffer, piece: dstAt.piece, writes: true))
            let perRow = dst.dtype == .f16 ? src.cols / 2 : src.cols
            run(.scatterRows, (dst.dtype.kernelCode, 0, 0), b,
                PushConstants(src.rows, src.cols, srcAt.offset, src.cols, indexAt.offset, dstAt.offset),
                groups: blocks(src.rows * perRow))
        }
    }

    private func elementwise(_ op: ElementwiseOp, _ a: T, _ b: T?, out: T, name: String) {
        locked {
            guard a.count > 0, requireF32(a, out, op: name), let aAt = locate(a, "input"), let outAt = locate(out, "output") else { return }
            var bindings = Bindings()
            bindings.append(entry(aAt.buffer, piece: aAt.piece))
            var bOffset = 0
            if let b {
                guard requireF32(b, op: name), let bAt = locate(b, "second input") else { return }
                bindings.append(entry(bAt.buffer, piece: bAt.piece))
                bOffset = bAt.offset
            } else {
                bindings.append(placeholderEntry)
            }
            bindings.append(entry(outAt.buffer, piece: outAt.piece, writes: true))
            run(.elementwise, (op.rawValue, 0, 0), bindings, PushConstants(a.count, aAt.offset, bOffset, outAt.offset), groups: blocks(a.count))
        }
    }

    public func siluMul(gate: T, up: T, out: T) { elementwise(.siluMul, gate, up, out: out, name: "silu_mul") }
    public func silu(_ x: T, out: T) { elementwise(.silu, x, nil, out: out, name: "silu") }
    public func sigmoid(_ x: T, out: T) { elementwise(.sigmoid, x, nil, out: out, name: "sigmoid") }

    public func meanRows(_ x: T, segments: T, out: T) {
        locked {
            guard segments.rows > 0, x.cols > 0, requireF32(x, out, op: "mean_rows"),
                  let xAt = locate(x, "input"), let segmentsAt = locate(segments, "segments"),
                  let outAt = locate(out, "output") else { return }
            var b = Bindings()
            b.append(entry(xAt.buffer, piece: xAt.piece))
            b.append(entry(segmentsAt.buffer, piece: segmentsAt.piece))
            b.append(entry(outAt.buffer, piece: outAt.piece, writes: true))
            run(.meanRows, (0, 0, 0), b,
                PushConstants(segments.rows, x.cols, xAt.offset, segmentsAt.offset, outAt.offset, out.cols),
                groups: blocks(segments.rows * x.cols))
        }
    }

    public func concatColumns(_ a: T, _ b: T, out: T) {
        locked {
            guard a.rows > 0, requireF32(out, op: "concat_columns"), requireElementWise(a, b, op: "concat_columns"),
                  let aAt = locate(a, "left"), let bAt = locate(b, "right"),
                  let outAt = locate(out, "output") else { return }
            var bindings = Bindings()
            bindings.append(entry(aAt.buffer, piece: aAt.piece))
            bindings.append(entry(bAt.buffer, piece: bAt.piece))
            bindings.append(entry(outAt.buffer, piece: outAt.piece, writes: true))
            run(.concatColumns, (a.dtype.kernelCode, b.dtype.kernelCode, 0), bindings,
                PushConstants(a.rows, a.cols, b.cols, aAt.offset, bAt.offset, outAt.offset, out.cols),
                groups: blocks(a.rows * (a.cols + b.cols)))
        }
    }

    public func argmax(_ x: T, out: T) {
        locked {
            guard out.dtype == .i32 else { return fail(VulkanError.unsupported("argmax writes .i32, not \(out.dtype)")) }
        }
        rowwise(.argmax, x, out: out, name: "argmax")
    }

    private func rowwise(_ kernel: Kernel, _ x: T, out: T, name: String) {
        locked {
            guard x.rows > 0, x.cols > 0, requireF32(x, op: name), let xAt = locate(x, "input"), let outAt = locate(out, "output") else { return }
            var b = Bindings()
            b.append(entry(xAt.buffer, piece: xAt.piece))
            b.append(entry(outAt.buffer, piece: outAt.piece, writes: true))
            run(kernel, (0, 0, 0), b, PushConstants(x.rows, x.cols, xAt.offset, outAt.offset), groups: x.rows)
        }
    }
}

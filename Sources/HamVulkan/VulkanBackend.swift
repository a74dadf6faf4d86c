import CVulkan
import Foundation
import HamCore

/// The Vulkan backend: weights live in device-local memory (uploaded once through a staging
/// buffer, in their stored dtype), and so do KV caches and activations. Every op records one or
/// a few compute dispatches into a command buffer that is submitted only at a sync point
/// (`read`, `readTokens`, `synchronize`), so a whole macro step is one submission.
///
/// Ops cannot throw (the `Backend` protocol); a failure while recording one (an unsupported
/// shape, a pipeline the driver refused) is kept and thrown by the next sync point.
///
/// Every method takes one lock (the queue, the command pool and the recorder's state are not
/// thread-safe in Vulkan), so a backend may be shared between threads; interleaving two graphs'
/// ops on it is still the callers' business.
public final class VulkanBackend: Backend, @unchecked Sendable {
    public typealias Buffer = VulkanBuffer

    public let device: VulkanDeviceInfo
    public let options: VulkanOptions
    let context: VulkanContext
    let library: KernelLibrary
    let binder: DescriptorBinder
    let stream: CommandStream
    /// Bound where a kernel's binding is unused (a linear without bias).
    let placeholder: DeviceAllocation
    private var staging: DeviceAllocation?
    /// THREADS_PER_ROW of the streaming product.
    let matvecThreadsPerRow: Int
    private let lock = NSLock()
    private var pendingError: VulkanError?

    /// Largest staging buffer for weight uploads; bigger weights go through it in pieces.
    static let stagingLimit = 64 << 20

    public init(options: VulkanOptions = VulkanOptions()) throws {
        self.options = options
        let instance = try VulkanInstance(validation: options.validation, synchronizationValidation: options.synchronizationValidation)
        let physical = try instance.physicalDevices()
        guard !physical.isEmpty else { throw VulkanError.noDevice.blamingDriverList() }
        let devices = physical.enumerated().map { VulkanDeviceInfo(index: $0.offset, device: $0.element, instance: instance) }
        let chosen: VulkanDeviceInfo
        if let index = options.device {
            guard devices.indices.contains(index) else { throw VulkanError.deviceIndexOutOfRange(index: index, count: devices.count) }
            chosen = devices[index]
        } else {
            guard let preferred = VulkanDeviceInfo.preferred(devices) else { throw VulkanError.noComputeQueue(device: devices[0].summary) }
            chosen = preferred
        }
        device = chosen
        if let asked = options.matvecThreadsPerRow {
            guard asked > 0, asked <= Kernel.workgroupSize, asked & (asked - 1) == 0 else {
                throw VulkanError.unsupported("matvec threads per row is \(asked); expected a power of two up to \(Kernel.workgroupSize)")
            }
            matvecThreadsPerRow = asked
        } else {
            matvecThreadsPerRow = chosen.type == .cpu ? 1 : 32
        }
        context = try VulkanContext(instance: instance, physicalDevice: physical[chosen.index], info: chosen,
                                    pushDescriptors: options.pushDescriptors)
        library = try KernelLibrary(context: context)
        binder = DescriptorBinder(context: context)
        do {
            stream = try CommandStream(context: context, barrierMode: options.barrierMode)
        } catch {
            library.destroy()
            throw error
        }
        do {
            placeholder = try context.allocate(bytes: 16, kind: .deviceLocal)
        } catch {
            stream.destroy()
            library.destroy()
            throw error
        }
        let binder = self.binder
        stream.onBuffersDestroyed = { binder.recycle($0) }
    }

    deinit {
        lock.lock()
        try? stream.submitAndWait()
        _ = context.functions.deviceWaitIdle(context.device)
        stream.destroy()
        binder.destroy()
        library.destroy()
        context.destroy(placeholder)
        if let staging { context.destroy(staging) }
        lock.unlock()
    }

    /// "vulkan: NVIDIA H100 80GB HBM3 (discrete)".
    public var name: String { "vulkan: \(device.summary)" }

    /// Whether the validation layer is on (asked for and installed).
    public var validationEnabled: Bool { context.instance.validationEnabled }
    public var validationLog: ValidationLog { context.instance.validationLog }
    public var usesPushDescriptors: Bool { context.usesPushDescriptors }
    public var maxBindingBytes: Int { context.maxBindingBytes }
    /// Weights larger than this are split into several bindings.
    var weightPieceLimit: Int { min(context.maxBindingBytes, options.maxWeightPieceBytes ?? Int.max) }

    public var statistics: VulkanStatistics {
        lock.lock()
        defer { lock.unlock() }
        return stream.statistics
    }

    /// Pipelines and cached descriptor sets made so far (they must stop growing once warm).
    public var objectCounts: (pipelines: Int, descriptorSets: Int) {
        lock.lock()
        defer { lock.unlock() }
        return (library.pipelineCount, binder.setsAllocated)
    }

    // MARK: Errors

    /// Keeps the first failure of an op for the next sync point.
    func fail(_ error: Error) {
        guard pendingError == nil else { return }
        pendingError = error as? VulkanError ?? .unsupported("\(error)")
    }

    /// Submits what is recorded, then throws a failure kept since the last sync point.
    private func sync() throws {
        let kept = pendingError
        pendingError = nil
        do {
            try stream.submitAndWait()
        } catch {
            throw kept ?? error
        }
        if let kept { throw kept }
    }

    func locked<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }

    // MARK: Memory

    public func upload(_ tensor: HostTensor) throws -> Tensor<VulkanBuffer> {
        try locked {
            let (rows, cols) = matrixShape(tensor.shape)
            let size = tensor.dtype.blockBytes
            let rowBytes = tensor.dtype.bytes(max(cols, 1))
            let limit = weightPieceLimit
            let rowsPerPiece = tensor.byteCount <= limit ? max(rows, 1) : limit / rowBytes
            guard rowsPerPiece > 0, (rows + rowsPerPiece - 1) / rowsPerPiece <= 255 else {
                throw VulkanError.tensorTooLarge(what: "a weight row of \(cols) \(tensor.dtype) values", bytes: rowBytes,
                                                 limit: limit)
            }
            var pieces: [VulkanBuffer.Piece] = []
            do {
                var row = 0
                repeat {
                    let count = min(rowsPerPiece, rows - row)
                    let allocation = try context.allocate(bytes: count * rowBytes, kind: .deviceLocal)
                    pieces.append(VulkanBuffer.Piece(allocation: allocation, firstElement: row * cols, elementCount: count * cols))
                    if let scaleOffset = tensor.dtype.unalignedScaleOffset {
                        let laidOut = Self.scalesLast(tensor.bytes, dtype: tensor.dtype, scaleOffset: scaleOffset,
                                                      firstRow: row, rows: count, cols: cols)
                        try laidOut.withUnsafeBytes { try copyToDevice($0, from: 0, count: $0.count, into: allocation) }
                    } else {
                        try copyToDevice(tensor.bytes, from: row * rowBytes, count: count * rowBytes, into: allocation)
                    }
                    row += count
                } while row < rows
            } catch {
                pieces.forEach { context.destroy($0.allocation) }
                throw error
            }
            let buffer = VulkanBuffer(context: context, pieces: pieces, elementSize: size)
            return Tensor(buffer: buffer, rows: rows, cols: cols, dtype: tensor.dtype)
        }
    }

    /// Rows of a block type whose blocks are not whole words (q8_0: 34 bytes, q4_0: 18, q5_0: 22,
    /// q6_k: 210) as the kernels read them: every block without its f16 scale, then the scales of all
    /// blocks. Otherwise most blocks would start off a word; this way block `b`'s body is at
    /// byte `b · (size − 2)` and its scale at halfword `blocks · (size − 2) / 2 + b`
    /// (Shaders/blocks.glsl).
    static func scalesLast(_ blocks: UnsafeRawBufferPointer, dtype: DType, scaleOffset: Int, firstRow: Int, rows: Int, cols: Int) -> [UInt8] {
        let size = dtype.blockBytes, body = size - 2
        let count = rows * (cols / dtype.blockElements), first = firstRow * (cols / dtype.blockElements)
        var out = [UInt8](repeating: 0, count: count * size)
        out.withUnsafeMutableBytes { target in
            for block in 0..<count {
                let source = (first + block) * size
                var at = block * body
                for i in 0..<size where i != scaleOffset && i != scaleOffset + 1 {
                    target[at] = blocks[source + i]
                    at += 1
                }
                target[count * body + 2 * block] = blocks[source + scaleOffset]
                target[count * body + 2 * block + 1] = blocks[source + scaleOffset + 1]
            }
        }
        return out
    }

    /// `count` bytes of `source` from `start` into `allocation`, through the staging buffer.
    private func copyToDevice(_ source: UnsafeRawBufferPointer, from start: Int, count: Int, into allocation: DeviceAllocation) throws {
        guard count > 0, let base = source.baseAddress else { return }
        let stagingBytes = min(count, Self.stagingLimit)
        if (staging?.bytes ?? 0) < stagingBytes {
            if let old = staging { context.destroy(old) }
            staging = nil
            staging = try context.allocate(bytes: stagingBytes, kind: .upload)
        }
        guard let staging, let mapped = staging.mapped else { throw VulkanError.outOfHostMemory }
        var done = 0
        while done < count {
            let chunk = min(staging.bytes, count - done)
            mapped.copyMemory(from: base + start + done, byteCount: chunk)
            let destinationOffset = done
            try stream.immediately { commandBuffer in
                var region = VkBufferCopy(srcOffset: 0, dstOffset: VkDeviceSize(destinationOffset), size: VkDeviceSize(chunk))
                context.functions.cmdCopyBuffer(commandBuffer, staging.buffer, allocation.buffer, 1, &region)
            }
            done += chunk
        }
    }

    public func allocate(rows: Int, cols: Int, dtype: DType) throws -> Tensor<VulkanBuffer> {
        try locked {
            let bytes = dtype.bytes(rows * cols)
            guard bytes <= context.maxBindingBytes else {
                throw VulkanError.tensorTooLarge(what: "a \(rows)×\(cols) \(dtype) tensor", bytes: bytes, limit: context.maxBindingBytes)
            }
            let allocation = try context.allocate(bytes: bytes, kind: .deviceLocal)
            let buffer = VulkanBuffer(context: context,
                                      pieces: [VulkanBuffer.Piece(allocation: allocation, firstElement: 0, elementCount: rows * cols)],
                                      elementSize: dtype.blockBytes)
            // Zero-filled in order with the ops, like a fresh CPU allocation.
            try stream.fill(entry(buffer, piece: 0, writes: true), bytes: allocation.bytes)
            return Tensor(buffer: buffer, rows: rows, cols: cols, dtype: dtype)
        }
    }

    public func write(_ values: [Float], to tensor: Tensor<VulkanBuffer>) {
        locked {
            guard tensor.dtype == .f32, values.count == tensor.count else {
                return fail(VulkanError.unsupported("write of \(values.count) floats to a \(tensor.rows)×\(tensor.cols) \(tensor.dtype) tensor"))
            }
            values.withUnsafeBytes { hostWrite($0, to: tensor) }
        }
    }

    public func writeTokens(_ ids: [Int32], to tensor: Tensor<VulkanBuffer>) {
        locked {
            guard tensor.dtype == .i32, ids.count == tensor.count else {
                return fail(VulkanError.unsupported("write of \(ids.count) token ids to a \(tensor.rows)×\(tensor.cols) \(tensor.dtype) tensor"))
            }
            ids.withUnsafeBytes { hostWrite($0, to: tensor) }
        }
    }

    private func hostWrite(_ bytes: UnsafeRawBufferPointer, to tensor: Tensor<VulkanBuffer>) {
        guard tensor.count > 0, let at = locate(tensor, "write") else { return }
        do {
            try stream.write(bytes, to: entry(at.buffer, piece: at.piece, writes: true), at: at.offset * 4)
        } catch {
            fail(error)
        }
    }

    public func copy(_ src: Tensor<VulkanBuffer>, to dst: Tensor<VulkanBuffer>) {
        locked {
            guard src.dtype == dst.dtype, src.count == dst.count else {
                return fail(VulkanError.unsupported("copy of \(src.count) \(src.dtype) to \(dst.count) \(dst.dtype)"))
            }
            guard src.count > 0, let from = locate(src, "copy source"), let to = locate(dst, "copy destination") else { return }
            let size = src.dtype.blockBytes
            if from.buffer === to.buffer && from.piece == to.piece && abs(from.offset - to.offset) < src.count {
                // vkCmdCopyBuffer forbids overlapping regions.
                return fail(VulkanError.unsupported("copy between overlapping rows of one tensor"))
            }
            do {
                try stream.copy(from: entry(from.buffer, piece: from.piece), at: from.offset * size,
                                to: entry(to.buffer, piece: to.piece, writes: true), at: to.offset * size, bytes: src.byteCount)
            } catch {
                fail(error)
            }
        }
    }

    public func synchronize() throws {
        try locked { try sync() }
    }

    public func read(_ tensor: Tensor<VulkanBuffer>) throws -> [Float] {
        try locked {
            let bytes = try readBytes([tensor])[0]
            return [Float](unsafeUninitializedCapacity: tensor.count) { out, initialized in
                bytes.withUnsafeBytes { raw in
                    if let source = raw.baseAddress, let target = out.baseAddress {
                        widenToFloat(source, dtype: tensor.dtype, count: tensor.count, into: target)
                    }
                }
                initialized = tensor.count
            }
        }
    }

    public func readTokens(_ tensor: Tensor<VulkanBuffer>) throws -> [Int32] {
        try locked {
            guard tensor.dtype == .i32 else {
                throw VulkanError.unsupported("readTokens of a \(tensor.dtype) tensor")
            }
            let bytes = try readBytes([tensor])[0]
            return bytes.withUnsafeBytes { raw in
                (0..<tensor.count).map { raw.loadUnaligned(fromByteOffset: $0 * 4, as: Int32.self) }
            }
        }
    }

    /// One submission for all of them: a micro step's token and stop probability come back together.
    public func read(_ tensors: [Tensor<VulkanBuffer>]) throws -> [HostTensor] {
        try locked {
            try zip(tensors, readBytes(tensors)).map { tensor, bytes in
                bytes.withUnsafeBytes { HostTensor(dtype: tensor.dtype, shape: [tensor.rows, tensor.cols], copying: $0) }
            }
        }
    }

    /// The tensors' bytes after everything enqueued, piece by piece, in one read-back.
    private func readBytes(_ tensors: [Tensor<VulkanBuffer>]) throws -> [[UInt8]] {
        var ranges: [(entry: Bindings.Entry, offset: Int, bytes: Int)] = []
        for tensor in tensors {
            let size = tensor.dtype.blockBytes
            var element = tensor.offset
            let end = tensor.offset + tensor.count
            while element < end {
                guard let index = tensor.buffer.piece(containing: element) else {
                    throw VulkanError.unsupported("read beyond the end of a buffer")
                }
                let piece = tensor.buffer.pieces[index]
                let count = min(end, piece.firstElement + piece.elementCount) - element
                ranges.append((entry(tensor.buffer, piece: index), (element - piece.firstElement) * size, count * size))
                element += count
            }
        }
        // Everything recorded so far runs first; its failure is this read's failure.
        let kept = pendingError
        pendingError = nil
        var results: [[UInt8]] = []
        do {
            try stream.read(ranges) { source in
                var position = 0
                for tensor in tensors {
                    results.append(Array(UnsafeRawBufferPointer(rebasing: source[position..<(position + tensor.byteCount)])))
                    position += tensor.byteCount
                }
            }
        } catch {
            throw kept ?? error
        }
        if let kept { throw kept }
        return results
    }

    // MARK: Helpers for the ops

    /// Where a tensor lives: the piece holding all of it and its element offset there.
    struct Location {
        let buffer: VulkanBuffer
        let piece: Int
        let offset: Int
    }

    func locate(_ tensor: Tensor<VulkanBuffer>, _ role: String) -> Location? {
        let buffer = tensor.buffer
        if buffer.pieces.count == 1 { return Location(buffer: buffer, piece: 0, offset: tensor.offset) }
        guard let index = buffer.piece(containing: tensor.offset),
              tensor.offset + tensor.count <= buffer.pieces[index].firstElement + buffer.pieces[index].elementCount else {
            fail(VulkanError.unsupported("the \(role) tensor (\(tensor.rows)×\(tensor.cols) \(tensor.dtype)) spans several buffer bindings"))
            return nil
        }
        return Location(buffer: buffer, piece: index, offset: tensor.offset - buffer.pieces[index].firstElement)
    }

    func entry(_ buffer: VulkanBuffer, piece: Int, writes: Bool = false) -> Bindings.Entry {
        Bindings.Entry(owner: buffer, handle: buffer.pieces[piece].allocation.buffer, key: buffer.id << 8 | UInt64(piece), writes: writes)
    }

    var placeholderEntry: Bindings.Entry {
        Bindings.Entry(owner: nil, handle: placeholder.buffer, key: 1, writes: false)
    }
}

/// 1-D weights become one row; N-D become `shape[0] × rest` (as the CPU backend).
func matrixShape(_ shape: [Int]) -> (Int, Int) {
    switch shape.count {
    case 0: (1, 1)
    case 1: (1, shape[0])
    default: (shape[0], shape.dropFirst().reduce(1, *))
    }
}

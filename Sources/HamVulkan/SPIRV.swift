import Foundation

/// A compute shader compiled at build time (Shaders/*.comp → the CompileShaders plugin, which
/// adds one static member per shader in generated files).
struct SPIRV: Sendable {
    let name: String
    let base64: String

    /// The module's 32-bit words.
    func words() throws -> [UInt32] {
        guard let data = Data(base64Encoded: base64), data.count % 4 == 0, data.count >= 20 else {
            throw VulkanError.invalidShader(name)
        }
        let words = data.withUnsafeBytes { raw in
            (0..<(data.count / 4)).map { UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self)) }
        }
        guard words.first == 0x0723_0203 else { throw VulkanError.invalidShader(name) }
        return words
    }

    /// What the shader's interface is, read from the module itself: the shader is the one place
    /// its bindings and its push-constant block are declared, and the pipeline layout and every
    /// dispatch are checked against this.
    struct Interface: Equatable {
        /// Storage-buffer bindings 0 ..< bindings.
        var bindings: Int
        /// Bytes of the push-constant block (its members are 32-bit scalars).
        var pushConstantBytes: Int
    }

    func interface() throws -> Interface {
        let words = try words()
        // Opcodes and enumerants of the SPIR-V specification.
        let opTypeInt: UInt32 = 21, opTypeFloat: UInt32 = 22, opTypeStruct: UInt32 = 30, opTypePointer: UInt32 = 32
        let opVariable: UInt32 = 59, opDecorate: UInt32 = 71, opMemberDecorate: UInt32 = 72
        let decorationBinding: UInt32 = 33, decorationOffset: UInt32 = 35, storagePushConstant: UInt32 = 9
        var scalarBytes: [UInt32: Int] = [:], structMembers: [UInt32: [UInt32]] = [:], pointee: [UInt32: UInt32] = [:]
        var memberOffsets: [UInt32: [Int: Int]] = [:], bindings: Set<UInt32> = []
        var pushBlock: UInt32?
        var i = 5
        while i < words.count {
            let count = Int(words[i] >> 16), opcode = words[i] & 0xffff
            guard count > 0, i + count <= words.count else { throw VulkanError.invalidShader(name) }
            let operands = words[(i + 1)..<(i + count)]
            let o = Array(operands)
            switch opcode {
            case opTypeInt, opTypeFloat where o.count >= 2: scalarBytes[o[0]] = Int(o[1]) / 8
            case opTypeStruct where !o.isEmpty: structMembers[o[0]] = Array(o.dropFirst())
            case opTypePointer where o.count >= 3: pointee[o[0]] = o[2]
            case opVariable where o.count >= 3 && o[2] == storagePushConstant: pushBlock = pointee[o[0]]
            case opDecorate where o.count >= 3 && o[1] == decorationBinding: bindings.insert(o[2])
            case opMemberDecorate where o.count >= 4 && o[2] == decorationOffset: memberOffsets[o[0], default: [:]][Int(o[1])] = Int(o[3])
            default: break
            }
            i += count
        }
        var pushBytes = 0
        if let block = pushBlock, let members = structMembers[block] {
            for (index, type) in members.enumerated() {
                guard let offset = memberOffsets[block]?[index], let size = scalarBytes[type] else {
                    throw VulkanError.invalidShader(name)
                }
                pushBytes = max(pushBytes, offset + size)
            }
        }
        guard bindings == Set((0..<UInt32(bindings.count))) else { throw VulkanError.invalidShader(name) }
        return Interface(bindings: bindings.count, pushConstantBytes: pushBytes)
    }
}

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
}

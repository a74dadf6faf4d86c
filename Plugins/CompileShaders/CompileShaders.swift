import Foundation
import PackagePlugin

/// Compiles every `Shaders/*.comp` of the package to SPIR-V with glslangValidator and embeds the
/// words in a generated Swift file, so the built binary carries its kernels and needs no
/// resource bundle (any non-Swift output file would silently become a resource and pull in
/// Foundation's Bundle.module).
@main
struct CompileShaders: BuildToolPlugin {
    func createBuildCommands(context: PluginContext, target: Target) throws -> [Command] {
        let shaders = context.package.directoryURL.appending(path: "Shaders")
        let files = try FileManager.default.contentsOfDirectory(atPath: shaders.path).sorted()
        let kernels = files.filter { $0.hasSuffix(".comp") }
        // SwiftPM ignores depfiles: every include is an input of every kernel, so editing one
        // recompiles all of them.
        // The dtype codes and block layouts come from the C kernels' header (one definition).
        let kernelHeaders = context.package.directoryURL.appending(path: "Sources/CHamKernels/include")
        let includes = files.filter { $0.hasSuffix(".glsl") }.map { shaders.appending(path: $0) }
            + [kernelHeaders.appending(path: "ham_dtype.h")]
        guard !kernels.isEmpty else {
            throw PluginError("no *.comp shaders in \(shaders.path)")
        }
        let compiler = try glslangValidator()
        let embed = try context.tool(named: "EmbedShaders").url
        let work = context.pluginWorkDirectoryURL
        return kernels.map { file in
            let name = String(file.dropLast(".comp".count))
            let source = shaders.appending(path: file)
            let output = work.appending(path: "\(name).spirv.swift")
            return .buildCommand(
                displayName: "Compiling shader \(file)",
                executable: embed,
                arguments: [compiler.path, source.path, work.appending(path: "\(name).spv").path,
                            output.path, name, shaders.path, kernelHeaders.path],
                inputFiles: [source] + includes + [compiler],
                outputFiles: [output])
        }
    }

    /// `$GLSLANG_VALIDATOR`, else the first `glslangValidator` on `$PATH` (`context.tool(named:)`
    /// only knows the package's own tools and the toolchain's).
    private func glslangValidator() throws -> URL {
        let environment = ProcessInfo.processInfo.environment
        let manager = FileManager.default
        if let override = environment["GLSLANG_VALIDATOR"], !override.isEmpty {
            guard manager.isExecutableFile(atPath: override) else {
                throw PluginError("GLSLANG_VALIDATOR is '\(override)', which is not an executable file")
            }
            return URL(fileURLWithPath: override)
        }
        let path = environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") where !directory.isEmpty {
            let candidate = URL(fileURLWithPath: String(directory)).appending(path: "glslangValidator")
            if manager.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        throw PluginError("""
            glslangValidator (GLSL to SPIR-V compiler) not found on PATH; the Vulkan kernels need it \
            at build time: apt-get install glslang-tools (or set GLSLANG_VALIDATOR=/path/to/glslangValidator)
            """)
    }
}

struct PluginError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

#if canImport(Glibc)
import Glibc
#endif

// libFuzzer calls this with each input; HAMRUN_FUZZ_TARGET names the parser (Tools/fuzz/run).
@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    selectedTarget(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}

// Called by libFuzzer once, before the first input.
@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>?, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>?) -> CInt {
    _ = selectedTarget
    let name = getenv("HAMRUN_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    fuzzWarmUps[name]?()
    return 0
}

private let selectedTarget: @Sendable (UnsafeRawBufferPointer) -> Void = {
    let name = getenv("HAMRUN_FUZZ_TARGET").map { String(cString: $0) } ?? ""
    guard let target = fuzzTargets[name] else {
        fatalError("set HAMRUN_FUZZ_TARGET to one of \(fuzzTargets.keys.sorted().joined(separator: ", "))")
    }
    return target
}()

#if !FUZZING
/// Without libFuzzer (a normal build): `hamrun-fuzz NAME FILE...` runs each file (or every file
/// of a folder) through the parser once: the seed corpora and found crashes as regression tests.
@main
struct Replay {
    static func main() {
        let arguments = Array(CommandLine.arguments.dropFirst())
        guard let name = arguments.first, let target = fuzzTargets[name] else {
            complain("usage: hamrun-fuzz \(fuzzTargets.keys.sorted().joined(separator: "|")) FILE_OR_DIR...")
            exit(2)
        }
        var count = 0
        for path in arguments.dropFirst() {
            for file in files(path) {
                guard let bytes = read(file) else {
                    complain("hamrun-fuzz: cannot read \(file)")
                    exit(1)
                }
                bytes.withUnsafeBytes { target($0) }
                count += 1
            }
        }
        print("\(name): \(count) inputs, no crash")
    }

    static func complain(_ message: String) {
        var line = message + "\n"
        line.withUTF8 { _ = write(2, $0.baseAddress, $0.count) }
    }

    static func files(_ path: String) -> [String] {
        guard let directory = opendir(path) else { return [path] }
        defer { closedir(directory) }
        var names: [String] = []
        while let entry = readdir(directory) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
            if !name.hasPrefix(".") { names.append(path + "/" + name) }
        }
        return names.sorted()
    }

    static func read(_ path: String) -> [UInt8]? {
        guard let file = fopen(path, "rb") else { return nil }
        defer { fclose(file) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = fread(&chunk, 1, chunk.count, file)
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        return bytes
    }
}
#endif

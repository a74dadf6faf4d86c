import Foundation
import HamCore
import HamLoad

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writing a model directory so that a failure leaves nothing half-written: everything goes into
/// a hidden sibling, checked, then renamed into place (`hamrun convert`, `hamrun quantize`).
enum OutputDirectory {

    static func check(_ output: String, force: Bool) throws {
        var isDirectory: ObjCBool = false
        guard !force, FileManager.default.fileExists(atPath: output, isDirectory: &isDirectory) else { return }
        if isDirectory.boolValue, (try? FileManager.default.contentsOfDirectory(atPath: output))?.isEmpty == true { return }
        throw ConvertError.outputExists(path: output)
    }

    static func makeStaging(next output: String) throws -> String {
        let url = URL(fileURLWithPath: output).standardizedFileURL
        let parent = url.deletingLastPathComponent().path
        let staging = filePath(".\(url.lastPathComponent).partial-\(ProcessInfo.processInfo.processIdentifier)-\(UInt32.random(in: 0...UInt32.max))", in: parent)
        do {
            try FileManager.default.createDirectory(atPath: staging, withIntermediateDirectories: false)
        } catch {
            throw ConvertError.cannotWrite(path: output, reason: "cannot create a directory in \(parent) (does it exist and is it writable?)")
        }
        return staging
    }

    /// Renames the finished directory into place; an existing output (allowed by `force`, or
    /// empty) is moved aside first and removed only once the new one is in place.
    static func install(_ staging: String, at output: String, force: Bool) throws {
        let manager = FileManager.default
        var isDirectory: ObjCBool = false
        if manager.fileExists(atPath: output, isDirectory: &isDirectory) {
            let empty = isDirectory.boolValue && (try? manager.contentsOfDirectory(atPath: output))?.isEmpty == true
            guard force || empty else { throw ConvertError.outputExists(path: output) }
            let aside = staging + ".old"
            guard rename(output, aside) == 0 else {
                throw ConvertError.cannotWrite(path: output, reason: "cannot move the existing \(output) aside: \(String(cString: strerror(errno)))")
            }
            guard rename(staging, output) == 0 else {
                let reason = String(cString: strerror(errno))
                _ = rename(aside, output)
                throw ConvertError.cannotWrite(path: output, reason: reason)
            }
            try? manager.removeItem(atPath: aside)
        } else {
            guard rename(staging, output) == 0 else {
                throw ConvertError.cannotWrite(path: output, reason: String(cString: strerror(errno)))
            }
        }
    }
}

import Foundation
import HamCore
import HamLoad
import ZIPFoundation

/// The records of a `torch.save` zip: stored records are used in place in the memory mapping,
/// compressed ones are inflated by ZIPFoundation once and kept. Each record's CRC-32 is checked
/// the first time it is read, so a damaged download is an error, not silently wrong weights.
final class CheckpointArchive: @unchecked Sendable {
    let path: String
    let directory: ZipDirectory
    private let file: MappedFile
    private var inflated: [String: OwnedBytes] = [:]
    private var verified: Set<String> = []
    private var zipFoundationArchive: Archive?
    /// The caches above are filled on first use, possibly from several threads.
    private let lock = NSLock()

    init(path: String) throws {
        file = try MappedFile(path: path)
        self.path = path
        directory = try ZipDirectory(file: file)
    }

    /// The bytes of record `name`, valid while `owner` lives.
    func contents(of name: String) throws -> (bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        lock.lock()
        defer { lock.unlock() }
        guard let entry = directory[name] else {
            throw LoadError.malformed(path: path, detail: "zip entry '\(name)' is missing")
        }
        guard entry.flags & 1 == 0 else {
            throw LoadError.malformed(path: path, detail: "zip entry '\(name)' is encrypted")
        }
        switch entry.method {
        case 0:
            let range = try directory.dataRange(of: entry)
            guard entry.uncompressedSize == range.count else {
                throw LoadError.malformed(path: path, detail: "zip entry '\(name)' is stored but its sizes differ (\(range.count) and \(entry.uncompressedSize) bytes)")
            }
            let bytes = UnsafeRawBufferPointer(rebasing: file.bytes[range])
            try verify(entry, bytes)
            return (bytes, file)
        case 8:
            let buffer = try inflate(entry)
            return (UnsafeRawBufferPointer(start: buffer.pointer, count: entry.uncompressedSize), buffer)
        default:
            throw LoadError.malformed(path: path, detail: "zip entry '\(name)' uses compression method \(entry.method); expected stored (0) or deflate (8)")
        }
    }

    private func verify(_ entry: ZipDirectory.Entry, _ bytes: UnsafeRawBufferPointer) throws {
        // torch.save can be told not to compute CRCs and then records 0; such records cannot be checked.
        guard entry.crc32 != 0 || bytes.isEmpty, !verified.contains(entry.name) else { return }
        let checksum = ZipCRC32.checksum(bytes)
        guard checksum == entry.crc32 else {
            throw LoadError.malformed(path: path, detail: "zip entry '\(entry.name)' fails its CRC-32 check (the file is damaged)")
        }
        verified.insert(entry.name)
    }

    private func inflate(_ entry: ZipDirectory.Entry) throws -> OwnedBytes {
        if let done = inflated[entry.name] { return done }
        _ = try directory.dataRange(of: entry)
        // Deflate expands at most about 1032 times; a larger claim is a lie that would only
        // make the allocation below fail.
        guard entry.uncompressedSize <= entry.compressedSize.multipliedReportingOverflow(by: 1032).partialValue + 1024 else {
            throw LoadError.malformed(path: path, detail: "zip entry '\(entry.name)' claims to inflate \(entry.compressedSize) bytes to \(entry.uncompressedSize); deflate cannot")
        }
        do {
            let archive: Archive
            if let opened = zipFoundationArchive {
                archive = opened
            } else {
                archive = try Archive(url: URL(fileURLWithPath: path), accessMode: .read)
                zipFoundationArchive = archive
            }
            guard let zipEntry = archive[entry.name] else {
                throw LoadError.malformed(path: path, detail: "zip entry '\(entry.name)' cannot be found by the zip reader")
            }
            let buffer = OwnedBytes(byteCount: entry.uncompressedSize)
            var filled = 0
            // ZIPFoundation checks the CRC-32 while inflating.
            _ = try archive.extract(zipEntry, bufferSize: 1 << 20) { chunk in
                guard chunk.count <= entry.uncompressedSize - filled else {
                    throw LoadError.malformed(path: path, detail: "zip entry '\(entry.name)' inflates to more than its recorded \(entry.uncompressedSize) bytes")
                }
                chunk.copyBytes(to: buffer.pointer.advanced(by: filled).assumingMemoryBound(to: UInt8.self), count: chunk.count)
                filled += chunk.count
            }
            guard filled == entry.uncompressedSize else {
                throw LoadError.truncated(path: path, detail: "zip entry '\(entry.name)' inflates to \(filled) bytes; its header says \(entry.uncompressedSize)")
            }
            inflated[entry.name] = buffer
            verified.insert(entry.name)
            return buffer
        } catch let error as LoadError {
            throw error
        } catch {
            throw LoadError.malformed(path: path, detail: "zip entry '\(entry.name)' cannot be inflated: \(error)")
        }
    }
}

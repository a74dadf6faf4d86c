import HamCore
import HamLoad

/// The central directory of a memory-mapped zip file, read so that stored (uncompressed) entries
/// can be used in place: `torch.save` stores every record uncompressed and 64-byte aligned, and a
/// multi-gigabyte checkpoint should cost page faults, not copies. ZIPFoundation keeps the
/// offsets this needs private, so the directory is read here; it still inflates the rare
/// compressed entry (see `CheckpointArchive`). ZIP64 records are followed, since checkpoints
/// over 4 GiB need them.
struct ZipDirectory {
    struct Entry {
        let name: String
        /// 0: stored, 8: deflated.
        let method: UInt16
        let flags: UInt16
        let crc32: UInt32
        let compressedSize: Int
        let uncompressedSize: Int
        let localHeaderOffset: Int
    }

    let path: String
    let entries: [Entry]
    private let byName: [String: Int]
    private let bytes: UnsafeRawBufferPointer

    init(file: MappedFile) throws {
        path = file.path
        bytes = file.bytes
        entries = try Self.readEntries(file.bytes, path: file.path)
        var byName: [String: Int] = [:]
        for (i, entry) in entries.enumerated() {
            // Readers disagree on which of two same-named entries counts (ZIPFoundation takes the
            // first, Python's zipfile the last): a checkpoint with both means different weights to
            // different tools, so it is refused.
            guard byName[entry.name] == nil else {
                throw LoadError.malformed(path: file.path, detail: "zip has two entries named '\(entry.name)'; a checkpoint has one of each")
            }
            byName[entry.name] = i
        }
        self.byName = byName
    }

    private static func readEntries(_ bytes: UnsafeRawBufferPointer, path: String) throws -> [Entry] {
        let size = bytes.count
        let start = size >= 4 ? Self.u32(bytes, 0) : 0
        guard start == 0x0403_4B50 || start == 0x0605_4B50 else {
            if size >= 2, bytes[0] == 0x80, bytes[1] <= 5 {
                throw LoadError.malformed(path: path, detail: "a pickle in torch's legacy (pre-1.6, non-zip) format; re-save it with a current torch.save, which writes a zip")
            }
            throw LoadError.malformed(path: path, detail: "not a zip archive; expected a PyTorch checkpoint as torch.save writes it (a zip with data.pkl)")
        }

        // The end-of-central-directory record is the last 22 bytes plus a comment of up to 64 KiB.
        var eocd: Int?
        var candidate = size - 22
        while candidate >= 0, candidate >= size - 22 - 0xFFFF {
            if Self.u32(bytes, candidate) == 0x0605_4B50,
               candidate + 22 + Int(Self.u16(bytes, candidate + 20)) == size {
                eocd = candidate
                break
            }
            candidate -= 1
        }
        guard let eocd else {
            throw LoadError.truncated(path: path, detail: "no zip end-of-central-directory record (the file is cut short or not a zip)")
        }
        var count = Int(Self.u16(bytes, eocd + 10))
        var directorySize = Int(Self.u32(bytes, eocd + 12))
        var directoryOffset = Int(Self.u32(bytes, eocd + 16))

        let locator = eocd - 20
        if locator >= 0, Self.u32(bytes, locator) == 0x0706_4B50 {
            let record = try Self.offset(Self.u64(bytes, locator + 8), within: size - 56, path: path, what: "ZIP64 end-of-central-directory record")
            guard Self.u32(bytes, record) == 0x0606_4B50 else {
                throw LoadError.malformed(path: path, detail: "the ZIP64 locator points at byte \(record), which holds no ZIP64 end-of-central-directory record")
            }
            count = try Self.offset(Self.u64(bytes, record + 32), within: size, path: path, what: "entry count")
            directorySize = try Self.offset(Self.u64(bytes, record + 40), within: size, path: path, what: "central directory size")
            directoryOffset = try Self.offset(Self.u64(bytes, record + 48), within: size, path: path, what: "central directory")
        }
        guard directoryOffset <= size, directorySize <= size - directoryOffset else {
            throw LoadError.truncated(path: path, detail: "the zip central directory (\(directorySize) bytes at byte \(directoryOffset)) lies beyond the end of the file (\(size) bytes)")
        }

        var entries: [Entry] = []
        var at = directoryOffset
        let end = directoryOffset + directorySize
        for index in 0..<count {
            guard at + 46 <= end, Self.u32(bytes, at) == 0x0201_4B50 else {
                throw LoadError.malformed(path: path, detail: "zip central directory entry \(index) at byte \(at) is damaged")
            }
            let nameLength = Int(Self.u16(bytes, at + 28))
            let extraLength = Int(Self.u16(bytes, at + 30))
            let commentLength = Int(Self.u16(bytes, at + 32))
            let next = at + 46 + nameLength + extraLength + commentLength
            guard next <= end else {
                throw LoadError.malformed(path: path, detail: "zip central directory entry \(index) runs past the directory")
            }
            let name = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[(at + 46)..<(at + 46 + nameLength)]), as: UTF8.self)
            var compressed = UInt64(Self.u32(bytes, at + 20))
            var uncompressed = UInt64(Self.u32(bytes, at + 24))
            var localOffset = UInt64(Self.u32(bytes, at + 42))

            // ZIP64 extra field: the 64-bit values, in this order, of the fields saturated above.
            var extra = at + 46 + nameLength
            let extraEnd = extra + extraLength
            while extra + 4 <= extraEnd {
                let id = Self.u16(bytes, extra)
                let length = Int(Self.u16(bytes, extra + 2))
                var field = extra + 4
                let fieldEnd = min(field + length, extraEnd)
                if id == 0x0001 {
                    func next64() throws -> UInt64 {
                        guard field + 8 <= fieldEnd else {
                            throw LoadError.malformed(path: path, detail: "zip entry '\(name)' has a short ZIP64 extra field")
                        }
                        defer { field += 8 }
                        return Self.u64(bytes, field)
                    }
                    if uncompressed == 0xFFFF_FFFF { uncompressed = try next64() }
                    if compressed == 0xFFFF_FFFF { compressed = try next64() }
                    if localOffset == 0xFFFF_FFFF { localOffset = try next64() }
                }
                extra += 4 + length
            }

            let entry = Entry(
                name: name,
                method: Self.u16(bytes, at + 10),
                flags: Self.u16(bytes, at + 8),
                crc32: Self.u32(bytes, at + 16),
                compressedSize: try Self.offset(compressed, within: size, path: path, what: "size of '\(name)'"),
                uncompressedSize: try Self.offset(uncompressed, within: Int.max, path: path, what: "size of '\(name)'"),
                localHeaderOffset: try Self.offset(localOffset, within: size, path: path, what: "local header of '\(name)'"))
            entries.append(entry)
            at = next
        }
        return entries
    }

    subscript(name: String) -> Entry? { byName[name].map { entries[$0] } }

    /// Where an entry's (possibly compressed) bytes are in the file, checked against its size.
    func dataRange(of entry: Entry) throws -> Range<Int> {
        let header = entry.localHeaderOffset
        guard header <= bytes.count - 30, Self.u32(bytes, header) == 0x0403_4B50 else {
            throw LoadError.malformed(path: path, detail: "zip entry '\(entry.name)': no local header at byte \(header)")
        }
        let start = header + 30 + Int(Self.u16(bytes, header + 26)) + Int(Self.u16(bytes, header + 28))
        guard start <= bytes.count, entry.compressedSize <= bytes.count - start else {
            throw LoadError.truncated(path: path, detail: "zip entry '\(entry.name)' needs \(entry.compressedSize) bytes at byte \(start) but the file has \(bytes.count) bytes")
        }
        return start..<(start + entry.compressedSize)
    }

    private static func offset(_ value: UInt64, within limit: Int, path: String, what: String) throws -> Int {
        guard limit >= 0, value <= UInt64(limit) else {
            throw LoadError.malformed(path: path, detail: "zip \(what) is \(value), beyond the file's \(limit) bytes")
        }
        return Int(value)
    }

    private static func u16(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt16 {
        UInt16(b[at]) | UInt16(b[at + 1]) << 8
    }

    private static func u32(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt32 {
        UInt32(u16(b, at)) | UInt32(u16(b, at + 2)) << 16
    }

    private static func u64(_ b: UnsafeRawBufferPointer, _ at: Int) -> UInt64 {
        UInt64(u32(b, at)) | UInt64(u32(b, at + 4)) << 32
    }
}

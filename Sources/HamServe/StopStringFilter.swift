/// Finds stop strings in text that arrives in pieces, and holds back what could be the start of
/// one: a stop string split across tokens ("\n" then "\nUser:") is still found, and none of it is
/// ever sent. Matching is on UTF-8 bytes, so it is exact (no Unicode normalization) and a match
/// always begins on a character boundary.
struct StopStringFilter {
    private let stops: [[UInt8]]
    /// Text not yet released: a suffix that a stop string may start with.
    private var held: [UInt8] = []
    private(set) var stopped = false

    init(_ stops: [String]) {
        self.stops = stops.map { Array($0.utf8) }
    }

    /// The text that can be released now; after a stop string is found, the text before it, and
    /// nothing more from then on.
    mutating func append(_ text: String) -> String {
        guard !stopped else { return "" }
        held += text.utf8
        guard !stops.isEmpty else { return release(held.count) }
        if let cut = firstMatch() {
            stopped = true
            return release(cut)
        }
        return release(held.count - longestPossibleStart())
    }

    /// What is still held when generation ends without a stop string.
    mutating func finish() -> String {
        guard !stopped else { return "" }
        return release(held.count)
    }

    private mutating func release(_ count: Int) -> String {
        guard count > 0 else { return "" }
        let text = String(decoding: held[..<count], as: UTF8.self)
        held.removeFirst(count)
        return text
    }

    /// Where the earliest stop string starts in `held`.
    private func firstMatch() -> Int? {
        var best: Int?
        for stop in stops where stop.count <= held.count {
            var start = 0
            while start + stop.count <= held.count, best.map({ start < $0 }) ?? true {
                if held[start] == stop[0] && held[start..<(start + stop.count)].elementsEqual(stop) {
                    best = start
                    break
                }
                start += 1
            }
        }
        return best
    }

    /// The length of the longest suffix of `held` that is a proper prefix of some stop string.
    private func longestPossibleStart() -> Int {
        var longest = 0
        for stop in stops {
            var length = min(stop.count - 1, held.count)
            while length > longest {
                if held[(held.count - length)...].elementsEqual(stop[..<length]) {
                    longest = length
                    break
                }
                length -= 1
            }
        }
        return longest
    }
}

/// KV blocks of finished sequences, kept for later requests that begin with the same tokens
/// (prefix caching: a chat's next turn resends its whole history, a server's clients share a
/// system prompt). llama-server keeps each slot's last prompt for this; vLLM hashes blocks.
///
/// An entry is the tokens whose keys and values sit one per slot at positions 0 ..< count, and
/// the blocks holding them: a fresh sequence's prompt, and in base mode the generated tokens it
/// fed (HAMburger's merged steps are not one token per slot, so its entries end with the prompt).
/// A sequence that reuses an entry takes its blocks over, so no block is ever shared and nothing
/// is counted; what the entry held beyond the shared prefix is freed, and the sequence overwrites
/// the rest of its last block as it goes. Entries live in blocks the budget has to spare: the
/// oldest is evicted whenever a sequence needs its room.
///
/// Bit for bit only where the backend's products do not depend on the batch: the reused KV was
/// computed in other batches (a prefill of other rows, decode rows) than the new prompt's own
/// prefill would compute it in. The CPU's AVX2 level computes f16/bf16 products the same way at
/// every row count; its AVX-512 prefill kernel and the block types' prefill (through sgemm) round
/// differently from their decode kernels. There logits agree within float32 rounding, but a
/// greedy near-tie can go the other way and a repeated request may get another reply: hence
/// opt-in (llama-server's `cache_prompt` trade, which it documents the same way).
struct PrefixCache {
    struct Entry {
        var tokens: [Int32]
        var blocks: [Int32]
    }

    /// A reused prefix: `tokens` slots of `blocks`; `freed` are the entry's blocks beyond them.
    struct Hit {
        let tokens: Int
        let blocks: [Int32]
        let freed: [Int32]
    }

    let blockSize: Int
    /// Fewest shared tokens worth taking an entry over (one block): a shorter match would destroy
    /// an entry for almost nothing.
    var minimumTokens: Int { blockSize }
    /// Oldest first (an entry is taken over when reused, so this is least recently used first).
    private(set) var entries: [Entry] = []

    init(blockSize: Int) {
        self.blockSize = blockSize
    }

    var blockCount: Int { entries.reduce(0) { $0 + $1.blocks.count } }

    /// Keeps `tokens` (slots 0 ..< tokens.count of `blocks`); returns the blocks it does not keep.
    /// An entry the new one extends is dropped; an entry that already extends it makes it moot.
    mutating func insert(tokens: [Int32], blocks: [Int32]) -> [Int32] {
        let kept = kvBlocks(holding: tokens.count, blockSize: blockSize)
        guard tokens.count >= minimumTokens, kept <= blocks.count else { return blocks }
        if entries.contains(where: { $0.tokens.starts(with: tokens) }) { return blocks }
        var freed = Array(blocks[kept...])
        entries.removeAll { entry in
            guard tokens.starts(with: entry.tokens) else { return false }
            freed += entry.blocks
            return true
        }
        entries.append(Entry(tokens: tokens, blocks: Array(blocks[..<kept])))
        return freed
    }

    /// Takes over the entry sharing the longest prefix with `prompt`, reusing at most `limit`
    /// tokens of it.
    mutating func take(prefixOf prompt: [Int32], limit: Int) -> Hit? {
        var best: (index: Int, length: Int)?
        for (i, entry) in entries.enumerated() {
            let length = min(commonPrefix(entry.tokens, prompt), limit)
            if length >= minimumTokens && length > (best?.length ?? 0) { best = (i, length) }
        }
        guard let best else { return nil }
        let entry = entries.remove(at: best.index)
        let used = kvBlocks(holding: best.length, blockSize: blockSize)
        return Hit(tokens: best.length, blocks: Array(entry.blocks[..<used]), freed: Array(entry.blocks[used...]))
    }

    /// Drops the oldest entry; returns its blocks, or nil when there is none.
    mutating func evictOldest() -> [Int32]? {
        entries.isEmpty ? nil : entries.removeFirst().blocks
    }

    private func commonPrefix(_ a: [Int32], _ b: [Int32]) -> Int {
        var n = 0
        let end = min(a.count, b.count)
        while n < end && a[n] == b[n] { n += 1 }
        return n
    }
}

// A hash table from float32 bit patterns to 32-bit slots: the encoders' value -> symbol map.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

namespace hamsham {

// float32 -> bit pattern, with -0.0 folded into +0.0 (one symbol for zero).
inline uint32_t key_of(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    return bits == 0x80000000u ? 0u : bits;
}

// Open-addressing hash table from a float32 bit pattern to a 32-bit slot value.
class ValueMap {
  public:
    static constexpr uint32_t kEmpty = 0xFFFFFFFFu;  // a NaN pattern: never a key (NaN is rejected)

    explicit ValueMap(size_t expected = 64) { rehash(std::max<size_t>(64, expected * 2)); }

    // The slot of `key`, inserted with value `fresh` when absent; `inserted` tells which.
    uint32_t& find_or_insert(uint32_t key, uint32_t fresh, bool& inserted) {
        if ((size_ + 1) * 2 > keys_.size()) rehash(keys_.size() * 2);
        size_t i = probe(key);
        inserted = keys_[i] == kEmpty;
        if (inserted) {
            keys_[i] = key;
            values_[i] = fresh;
            ++size_;
        }
        return values_[i];
    }

    const uint32_t* find(uint32_t key) const {
        size_t i = probe(key);
        return keys_[i] == kEmpty ? nullptr : &values_[i];
    }

  private:
    size_t probe(uint32_t key) const {
        const size_t mask = keys_.size() - 1;
        uint32_t h = key;  // murmur3's finalizer: float bit patterns differ mostly in high bits
        h ^= h >> 16;
        h *= 0x85EBCA6Bu;
        h ^= h >> 13;
        h *= 0xC2B2AE35u;
        h ^= h >> 16;
        size_t i = h & mask;
        while (keys_[i] != kEmpty && keys_[i] != key) i = (i + 1) & mask;
        return i;
    }

    void rehash(size_t capacity) {
        size_t cap = 64;
        while (cap < capacity) cap *= 2;
        std::vector<uint32_t> old_keys(cap, kEmpty), old_values(cap);
        old_keys.swap(keys_);
        old_values.swap(values_);
        size_ = 0;
        for (size_t i = 0; i < old_keys.size(); ++i) {
            if (old_keys[i] == kEmpty) continue;
            size_t j = probe(old_keys[i]);
            keys_[j] = old_keys[i];
            values_[j] = old_values[i];
            ++size_;
        }
    }

    std::vector<uint32_t> keys_, values_;
    size_t size_ = 0;
};

}  // namespace hamsham

#include "strata/storage/state_store.h"

#include <map>
#include <mutex>

#include <rocksdb/db.h>
#include <rocksdb/options.h>
#include <rocksdb/write_batch.h>

#include "strata/common/log.h"

namespace strata::storage {
namespace {

storage_error from_status(const rocksdb::Status& s) {
    static const auto logger = log::get("storage");
    logger->error("state store: {}", s.ToString());
    return io_error(EIO);
}

class rocksdb_state_store final : public state_store {
public:
    explicit rocksdb_state_store(std::unique_ptr<rocksdb::DB> db) : _db(std::move(db)) {}

    result<std::optional<std::string>> get(std::string_view key) override {
        std::string value;
        auto s = _db->Get(rocksdb::ReadOptions(), rocksdb::Slice(key.data(), key.size()), &value);
        if (s.IsNotFound()) return std::optional<std::string>{};
        if (!s.ok()) return from_status(s);
        return std::optional<std::string>(std::move(value));
    }

    result<void> apply(std::vector<write> writes, bool sync) override {
        rocksdb::WriteBatch batch;
        for (const auto& w : writes) {
            if (w.value) batch.Put(w.key, *w.value);
            else batch.Delete(w.key);
        }
        rocksdb::WriteOptions options;
        options.sync = sync;
        auto s = _db->Write(options, &batch);
        if (!s.ok()) return from_status(s);
        return boost::outcome_v2::success();
    }

    result<void> remove_prefix(std::string_view prefix, bool sync) override {
        rocksdb::WriteBatch batch;
        std::unique_ptr<rocksdb::Iterator> it(_db->NewIterator(rocksdb::ReadOptions()));
        for (it->Seek(rocksdb::Slice(prefix.data(), prefix.size())); it->Valid() && it->key().starts_with(
                 rocksdb::Slice(prefix.data(), prefix.size()));
             it->Next()) {
            batch.Delete(it->key());
        }
        if (!it->status().ok()) return from_status(it->status());
        rocksdb::WriteOptions options;
        options.sync = sync;
        auto s = _db->Write(options, &batch);
        if (!s.ok()) return from_status(s);
        return boost::outcome_v2::success();
    }

private:
    std::unique_ptr<rocksdb::DB> _db;
};

class memory_state_store final : public state_store {
public:
    result<std::optional<std::string>> get(std::string_view key) override {
        std::lock_guard lock(_mutex);
        auto it = _data.find(std::string(key));
        if (it == _data.end()) return std::optional<std::string>{};
        return std::optional<std::string>(it->second);
    }
    result<void> apply(std::vector<write> writes, bool) override {
        std::lock_guard lock(_mutex);
        for (auto& w : writes) {
            if (w.value) _data[w.key] = *w.value;
            else _data.erase(w.key);
        }
        return boost::outcome_v2::success();
    }
    result<void> remove_prefix(std::string_view prefix, bool) override {
        std::lock_guard lock(_mutex);
        for (auto it = _data.lower_bound(std::string(prefix)); it != _data.end() && it->first.starts_with(prefix);)
            it = _data.erase(it);
        return boost::outcome_v2::success();
    }

private:
    std::mutex _mutex;
    std::map<std::string, std::string, std::less<>> _data;
};

}  // namespace

result<std::unique_ptr<state_store>> open_rocksdb_state_store(const std::string& path) {
    rocksdb::Options options;
    options.create_if_missing = true;
    // Small state: keep the footprint small (idle broker memory target).
    options.write_buffer_size = 4 << 20;
    options.max_write_buffer_number = 2;
    options.keep_log_file_num = 2;
    options.max_background_jobs = 1;
    rocksdb::DB* raw = nullptr;
    auto s = rocksdb::DB::Open(options, path, &raw);
    if (!s.ok()) return from_status(s);
    return std::unique_ptr<state_store>(new rocksdb_state_store(std::unique_ptr<rocksdb::DB>(raw)));
}

std::unique_ptr<state_store> make_memory_state_store() { return std::make_unique<memory_state_store>(); }

}  // namespace strata::storage

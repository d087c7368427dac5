// facerestore: stand-in for <ankerl/unordered_dense.h> (martinus/unordered_dense),
// which is header-only, not packaged by Debian 12 and normally fetched by
// mediasoup's meson wrap. The mediasoup worker only uses
// ankerl::unordered_dense::{map,set,hash} together with the std-compatible
// members (find, contains, try_emplace, reserve, erase, ...), so the standard
// containers are a drop-in replacement: a bit slower and bigger, never less
// safe (std containers keep references stable, ankerl's do not).
#ifndef FACERESTORE_COMPAT_ANKERL_UNORDERED_DENSE_H
#define FACERESTORE_COMPAT_ANKERL_UNORDERED_DENSE_H

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>

namespace ankerl
{
	namespace unordered_dense
	{
		namespace detail
		{
			// 64-bit finalizer (splitmix64): libstdc++'s std::hash of an integer
			// is the identity, which makes a poor input for hash combining.
			constexpr std::uint64_t mix64(std::uint64_t x) noexcept
			{
				x ^= x >> 30U;
				x *= UINT64_C(0xbf58476d1ce4e5b9);
				x ^= x >> 27U;
				x *= UINT64_C(0x94d049bb133111eb);
				x ^= x >> 31U;

				return x;
			}
		} // namespace detail

		// Same shape as ankerl's `template<class T, class Enable = void> struct hash`
		// so that code specialising it keeps compiling.
		template<class T, class Enable = void>
		struct hash : std::hash<T>
		{
		};

		template<class T>
		struct hash<T, std::enable_if_t<std::is_integral_v<T> || std::is_enum_v<T>>>
		{
			using is_avalanching = void;

			std::size_t operator()(T value) const noexcept
			{
				if constexpr (std::is_enum_v<T>)
				{
					using U = std::underlying_type_t<T>;

					return static_cast<std::size_t>(
					  detail::mix64(static_cast<std::uint64_t>(static_cast<U>(value))));
				}
				else
				{
					return static_cast<std::size_t>(detail::mix64(static_cast<std::uint64_t>(value)));
				}
			}
		};

		template<class T>
		struct hash<T*>
		{
			using is_avalanching = void;

			std::size_t operator()(T* ptr) const noexcept
			{
				return static_cast<std::size_t>(
				  detail::mix64(static_cast<std::uint64_t>(reinterpret_cast<std::uintptr_t>(ptr))));
			}
		};

		template<class T>
		struct hash<std::unique_ptr<T>>
		{
			using is_avalanching = void;

			std::size_t operator()(const std::unique_ptr<T>& ptr) const noexcept
			{
				return hash<T*>{}(ptr.get());
			}
		};

		template<class T>
		struct hash<std::shared_ptr<T>>
		{
			using is_avalanching = void;

			std::size_t operator()(const std::shared_ptr<T>& ptr) const noexcept
			{
				return hash<T*>{}(ptr.get());
			}
		};

		template<
		  class Key,
		  class T,
		  class Hash      = hash<Key>,
		  class KeyEqual  = std::equal_to<Key>,
		  class Allocator = std::allocator<std::pair<const Key, T>>>
		using map = std::unordered_map<Key, T, Hash, KeyEqual, Allocator>;

		template<
		  class Key,
		  class Hash      = hash<Key>,
		  class KeyEqual  = std::equal_to<Key>,
		  class Allocator = std::allocator<Key>>
		using set = std::unordered_set<Key, Hash, KeyEqual, Allocator>;

		// ankerl also offers segmented containers; same stand-in.
		template<class Key, class T, class Hash = hash<Key>, class KeyEqual = std::equal_to<Key>>
		using segmented_map = std::unordered_map<Key, T, Hash, KeyEqual>;

		template<class Key, class Hash = hash<Key>, class KeyEqual = std::equal_to<Key>>
		using segmented_set = std::unordered_set<Key, Hash, KeyEqual>;
	} // namespace unordered_dense
} // namespace ankerl

#endif

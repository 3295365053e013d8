using System;
using System.Buffers;

namespace PmpMail.Interop.Native;

/// <summary>
/// A growable byte buffer for JSON documents that may hold a secret. Every array it lets go of
/// (on growth and on dispose) is zeroed first, so no copy of the secret is left for the GC.
/// </summary>
internal sealed class SensitiveBufferWriter : IBufferWriter<byte>, IDisposable
{
    private const int MaxArrayLength = 0x7FFFFFC7; // Array.MaxLength, which netstandard2.0 lacks

    private byte[] _buffer;
    private int _written;

    public SensitiveBufferWriter(int initialCapacity = 1024) => _buffer = new byte[Math.Max(initialCapacity, 256)];

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _written);

    public void Advance(int count)
    {
        if (count < 0 || _written + count > _buffer.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(count));
        }

        _written += count;
    }

    public Memory<byte> GetMemory(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsMemory(_written);
    }

    public Span<byte> GetSpan(int sizeHint = 0)
    {
        Ensure(sizeHint);
        return _buffer.AsSpan(_written);
    }

    public void Dispose()
    {
        Array.Clear(_buffer, 0, _buffer.Length);
        _written = 0;
    }

    private void Ensure(int sizeHint)
    {
        int needed = Math.Max(sizeHint, 1);
        if (_buffer.Length - _written >= needed)
        {
            return;
        }

        long newSize = Math.Max((long)_buffer.Length * 2, (long)_written + needed);
        if (newSize > MaxArrayLength)
        {
            newSize = MaxArrayLength;
        }

        var bigger = new byte[newSize];
        _buffer.AsSpan(0, _written).CopyTo(bigger);
        Array.Clear(_buffer, 0, _buffer.Length);
        _buffer = bigger;
    }
}

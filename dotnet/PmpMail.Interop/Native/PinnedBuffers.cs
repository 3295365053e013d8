using System;
using System.Buffers;
using System.Collections.Generic;

namespace PmpMail.Interop.Native;

/// <summary>
/// In-memory attachment bytes pinned for one native call and described as its <c>pmp_buffer</c> list. Dispose after
/// the call has returned: the library keeps no pointer, so the bytes may move again.
/// </summary>
internal sealed unsafe class PinnedBuffers : IDisposable
{
    private readonly MemoryHandle[] _pins;

    public PinnedBuffers(List<ReadOnlyMemory<byte>> contents)
    {
        _pins = new MemoryHandle[contents.Count];
        List = new PmpBuffer[contents.Count];
        try
        {
            for (int i = 0; i < contents.Count; i++)
            {
                _pins[i] = contents[i].Pin();
                List[i] = new PmpBuffer { Data = (byte*)_pins[i].Pointer, Length = (nuint)contents[i].Length };
            }
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    /// <summary>The call's buffer list (empty: pass NULL with 0).</summary>
    public PmpBuffer[] List { get; }

    public void Dispose()
    {
        foreach (MemoryHandle pin in _pins)
        {
            pin.Dispose();
        }
    }
}

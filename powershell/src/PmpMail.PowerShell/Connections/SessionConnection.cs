namespace PmpMail;

/// <summary>The connection Connect-PmpMail stores for the whole PowerShell process.</summary>
internal static class SessionConnection
{
    private static readonly object Gate = new();
    private static PmpMailConnection? _current;

    public static PmpMailConnection? Current
    {
        get
        {
            lock (Gate)
            {
                return _current is { IsOpen: true } ? _current : null;
            }
        }
    }

    public static void Set(PmpMailConnection connection)
    {
        PmpMailConnection? previous;
        lock (Gate)
        {
            previous = _current;
            _current = connection;
        }

        if (previous is not null && !ReferenceEquals(previous, connection))
        {
            previous.Dispose();
        }
    }

    public static PmpMailConnection? Clear()
    {
        PmpMailConnection? previous;
        lock (Gate)
        {
            previous = _current;
            _current = null;
        }

        previous?.Dispose();
        return previous;
    }
}

using System;

namespace PmpMail;

/// <summary>A problem found before the native library is called (missing certificate, file, variable, profile).</summary>
public sealed class PmpMailSetupException(string errorId, string message, string remedy, Exception? inner = null)
    : Exception(message + " Remedy: " + remedy, inner)
{
    /// <summary>The ErrorId part of FullyQualifiedErrorId, without the "PmpMail." prefix.</summary>
    public string ErrorId { get; } = errorId;

    /// <summary>What to do about it.</summary>
    public string Remedy { get; } = remedy;
}

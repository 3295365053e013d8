namespace System.Runtime.CompilerServices;

/// <summary>Compiler support for init accessors on netstandard2.0 (.NET 5+ has its own).</summary>
internal static class IsExternalInit
{
}

#if !NET
namespace System.Runtime.CompilerServices
{
    /// <summary>Compiler support for init accessors on netstandard2.0.</summary>
    internal static class IsExternalInit
    {
    }
}
#endif

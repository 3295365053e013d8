using System;

namespace PmpMail.Interop.Native;

/// <summary>Argument checks that compile for both net8.0 and netstandard2.0.</summary>
internal static class Guard
{
    public static T NotNull<T>(T? value, string name)
        where T : class => value ?? throw new ArgumentNullException(name);

    public static string NotEmpty(string? value, string name, string message) =>
        string.IsNullOrWhiteSpace(value) ? throw new ArgumentException(message, name) : value!;
}


using System;
using System.Globalization;
using System.Management.Automation;

namespace PmpMail;

/// <summary>
/// Lets a switch or bool parameter that binds by property name take the text a CSV column holds: Import-Csv gives
/// strings, and PowerShell binds neither "true" to a bool parameter nor "false" to a switch as meant (a bool refuses
/// strings; a switch would read any non-empty string as present). Accepts true/false, 1/0 and yes/no (any case,
/// surrounding spaces ignored), booleans, switches and the integers 1 and 0; an empty value is
/// <see cref="EmptyValue"/>. Anything else is an error that names the value and what is accepted.
/// </summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Field)]
public sealed class BooleanArgumentAttribute : ArgumentTransformationAttribute
{
    /// <summary>What an empty value (an empty CSV cell) means: the parameter's default.</summary>
    public bool EmptyValue { get; set; }

    /// <inheritdoc />
    public override object Transform(EngineIntrinsics engineIntrinsics, object inputData)
    {
        object? value = inputData is PSObject wrapped ? wrapped.BaseObject : inputData;
        return value switch
        {
            null => EmptyValue,
            bool b => b,
            SwitchParameter s => s.IsPresent,
            string text => Parse(text),
            byte or sbyte or short or ushort or int or uint or long or ulong => Parse(Convert.ToString(value, CultureInfo.InvariantCulture) ?? string.Empty),
            _ => throw Refuse(value.ToString() ?? string.Empty),
        };
    }

    private bool Parse(string text)
    {
        string trimmed = text.Trim();
        if (trimmed.Length == 0)
        {
            return EmptyValue;
        }

        if (Is(trimmed, "true") || Is(trimmed, "1") || Is(trimmed, "yes") || Is(trimmed, "$true"))
        {
            return true;
        }

        if (Is(trimmed, "false") || Is(trimmed, "0") || Is(trimmed, "no") || Is(trimmed, "$false"))
        {
            return false;
        }

        throw Refuse(text);
    }

    private static bool Is(string text, string word) => string.Equals(text, word, StringComparison.OrdinalIgnoreCase);

    private static ArgumentTransformationMetadataException Refuse(string text) =>
        new($"'{text}' is not a yes/no value: use true/false, 1/0 or yes/no.");
}

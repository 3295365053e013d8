using System.Runtime.CompilerServices;

[assembly: InternalsVisibleTo("PmpMail.Interop.Tests")]

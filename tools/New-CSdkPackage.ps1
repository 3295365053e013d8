#requires -Version 7.4
<#
.SYNOPSIS
    The C SDK of one runtime: artifacts/pmp-mail-<version>-<rid>.tar.gz from its staged release library.
.DESCRIPTION
    Reads target/native/<rid>/ as tools/Build-NativeRelease.ps1 leaves it (the shared library, its SONAME
    already set on Linux; the static library without debug sections; native-build.json with the flags a
    static link needs and the glibc floor), so it runs on any machine, for any runtime, with no compiler
    or binutils. Writes one tarball whose top folder pmp-mail-<version>-<rid>/ is an install prefix that
    works wherever it is unpacked:

        include/pmp_mail.h
        lib/libpmp_mail.so.<M.m.p>, the SONAME link and libpmp_mail.so   (Linux; see Get-PmpCSdkLayout
        lib/libpmp_mail.a                                                 for macOS and Windows)
        lib/pkgconfig/pmp-mail.pc                 prefix=${pcfiledir}/../..
        lib/cmake/pmp-mail/pmp-mailConfig.cmake   pmp-mail::pmp-mail (shared; static with PMP_MAIL_STATIC)
        lib/cmake/pmp-mail/pmp-mailConfigVersion.cmake
        LICENSE, README.md

    The file list comes from Get-PmpCSdkLayout (tools/PmpBuild.psm1), which the install test
    (tools/Test-CSdkPackage.ps1) checks the tarball against. The tarball is reproducible: entries in
    a fixed order, owner 0:0, fixed modes, and every mtime set to SOURCE_DATE_EPOCH or else the
    last commit's time.
.EXAMPLE
    dotnet pwsh -NoProfile -File tools/New-CSdkPackage.ps1 -NativeDirectory target/native/linux-x64
#>
[CmdletBinding()]
param(
    # One runtime's staged release library (default: <cargo target dir>/native/<this machine's rid>).
    [string] $NativeDirectory,
    # Where the tarball goes (default: artifacts/ at the repository root).
    [string] $OutputDirectory
)

$ErrorActionPreference = 'Stop'
Set-StrictMode -Version Latest
Import-Module (Join-Path $PSScriptRoot 'PmpBuild.psm1')

$repo = Get-PmpRepositoryRoot
if (-not $OutputDirectory) { $OutputDirectory = Join-Path $repo 'artifacts' }
if (-not $NativeDirectory) { $NativeDirectory = Join-Path (Get-PmpTargetDirectory) 'native' (Get-PmpNativeLibrary).RuntimeIdentifier }
$version = Get-PmpVersion
$buildReport = Join-Path $NativeDirectory 'native-build.json'
if (-not (Test-Path -LiteralPath $buildReport)) { throw "$buildReport is missing: stage the library with 'build.ps1 native' first" }
$build = Get-Content -LiteralPath $buildReport -Raw | ConvertFrom-Json
if ($build.version -ne $version) { throw "${NativeDirectory} holds version $($build.version), Cargo.toml says ${version}: build it again" }
$layout = Get-PmpCSdkLayout -Version $version -RuntimeIdentifier $build.runtime
$sharedPath = Join-Path $NativeDirectory $build.sharedLibrary
$staticPath = Join-Path $NativeDirectory $build.staticLibrary
$importPath = "$sharedPath.lib"   # Windows: pmp_mail.dll.lib
foreach ($file in $sharedPath, $staticPath) {
    if (-not (Test-Path -LiteralPath $file -PathType Leaf)) { throw "$file is missing: stage the library with 'build.ps1 native' again" }
}
$header = Join-Path $repo 'include/pmp_mail.h'
$license = Join-Path $repo 'LICENSE'
foreach ($file in $header, $license) { if (-not (Test-Path -LiteralPath $file)) { throw "$file is missing" } }
$headerText = Get-Content -LiteralPath $header -Raw
if ($headerText -notmatch "(?m)^#define PMP_VERSION_STRING `"$([regex]::Escape($version))`"\s*$") {
    throw "include/pmp_mail.h does not say version ${version}: run PMP_UPDATE_GENERATED=1 cargo test -p pmp-mail --test it generated"
}
$staticLibs = @($build.nativeStaticLibs)
$glibc = $build.glibcFloor

function Format-Size([long] $Bytes) { '{0:N0} bytes ({1:N2} MiB)' -f $Bytes, ($Bytes / 1MB) }

# --- the files ---
$top = $layout.Top
$numbers = [regex]::Match($version, '^(\d+)\.(\d+)\.(\d+)')
$major, $minor = [int]$numbers.Groups[1].Value, [int]$numbers.Groups[2].Value
$entry = @{}
foreach ($e in $layout.Entries) { if ($e.Role) { $entry[$e.Role] = $e } }
$libFile = Split-Path $entry['shared'].Path -Leaf

# CMake wants library names (m) and flags (-framework X) in INTERFACE_LINK_LIBRARIES; MSVC's
# /defaultlib:msvcrt is the C runtime every MSVC project links anyway.
$cmakeLinkLibraries = ($staticLibs | Where-Object { $_ -notlike '/defaultlib:*' } | ForEach-Object { $_ -replace '^-l', '' }) -join ';'
$pointerSize = if ($layout.RuntimeIdentifier -match '-(x86|arm)$') { 4 } else { 8 }
$importedShared = switch ($layout.Os) {
    'win' {
        @"
    IMPORTED_LOCATION "`${_pmp_mail_prefix}/$($entry['shared'].Path)"
    IMPORTED_IMPLIB "`${_pmp_mail_prefix}/$($entry['import'].Path)"
"@
    }
    default {
        @"
    IMPORTED_LOCATION "`${_pmp_mail_prefix}/$($entry['shared'].Path)"
    IMPORTED_SONAME "$($layout.Soname)"
"@
    }
}

$files = [ordered]@{}
$files['header'] = [System.IO.File]::ReadAllBytes($header)
$files['license'] = [System.IO.File]::ReadAllBytes($license)

$files['pkgconfig'] = @"
# pmp-mail $version C SDK ($($layout.RuntimeIdentifier)). The prefix is where this file lies, so the
# SDK works wherever it is unpacked: PKG_CONFIG_PATH=<prefix>/lib/pkgconfig.
prefix=`${pcfiledir}/../..
exec_prefix=`${prefix}
libdir=`${exec_prefix}/lib
includedir=`${prefix}/include

Name: pmp-mail
Description: Send mail through Microsoft Graph with an Entra ID app registration (C ABI)
Version: $version
Cflags: -I`${includedir}
Libs: -L`${libdir} -lpmp_mail
Libs.private: $($staticLibs -join ' ')
"@

$files['cmake-config'] = @"
# pmp-mail $version C SDK ($($layout.RuntimeIdentifier)): the CMake package.
#
#   find_package(pmp-mail $major.$minor CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE pmp-mail::pmp-mail)
#
# pmp-mail::pmp-mail is the shared library; set PMP_MAIL_STATIC to ON before find_package for the
# static one. pmp-mail::shared and pmp-mail::static are both always defined.
# Relocatable: every path is computed from this file's folder, <prefix>/lib/cmake/pmp-mail.

get_filename_component(_pmp_mail_prefix "`${CMAKE_CURRENT_LIST_DIR}/../../.." ABSOLUTE)

if(NOT TARGET pmp-mail::pmp-mail)
  add_library(pmp-mail::shared SHARED IMPORTED)
  set_target_properties(pmp-mail::shared PROPERTIES
$importedShared
    INTERFACE_INCLUDE_DIRECTORIES "`${_pmp_mail_prefix}/include")

  # The static library needs what Rust's standard library links (rustc --print native-static-libs).
  add_library(pmp-mail::static STATIC IMPORTED)
  set_target_properties(pmp-mail::static PROPERTIES
    IMPORTED_LOCATION "`${_pmp_mail_prefix}/$($entry['static'].Path)"
    IMPORTED_LINK_INTERFACE_LANGUAGES "C"
    INTERFACE_INCLUDE_DIRECTORIES "`${_pmp_mail_prefix}/include"
    INTERFACE_LINK_LIBRARIES "$cmakeLinkLibraries")

  add_library(pmp-mail::pmp-mail INTERFACE IMPORTED)
  if(PMP_MAIL_STATIC)
    set_target_properties(pmp-mail::pmp-mail PROPERTIES INTERFACE_LINK_LIBRARIES pmp-mail::static)
  else()
    set_target_properties(pmp-mail::pmp-mail PROPERTIES INTERFACE_LINK_LIBRARIES pmp-mail::shared)
  endif()
endif()

foreach(_pmp_mail_file IN ITEMS "`${_pmp_mail_prefix}/include/pmp_mail.h" "`${_pmp_mail_prefix}/$($entry['shared'].Path)")
  if(NOT EXISTS "`${_pmp_mail_file}")
    set(pmp-mail_FOUND FALSE)
    set(pmp-mail_NOT_FOUND_MESSAGE "`${_pmp_mail_file} is missing from the pmp-mail SDK")
  endif()
endforeach()
unset(_pmp_mail_file)
unset(_pmp_mail_prefix)
"@

$files['cmake-version'] = @"
# pmp-mail ${version}: which find_package(pmp-mail <version>) requests this package satisfies.
# Semantic versioning: before 1.0 a minor release may change the ABI, so $major.$minor.x satisfies
# requests for $major.$minor.y (y <= x) only; from 1.0 on, any later minor of the same major.
# A $(8 * $pointerSize)-bit library: unsuitable for a project of another pointer size.
set(PACKAGE_VERSION "$version")

if(NOT PACKAGE_FIND_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
elseif(PACKAGE_FIND_VERSION VERSION_GREATER PACKAGE_VERSION)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
elseif(NOT PACKAGE_FIND_VERSION_MAJOR EQUAL $major)
  set(PACKAGE_VERSION_COMPATIBLE FALSE)
$(if ($major -eq 0) { "elseif(NOT PACKAGE_FIND_VERSION_MINOR EQUAL $minor)`n  set(PACKAGE_VERSION_COMPATIBLE FALSE)`n" })else()
  set(PACKAGE_VERSION_COMPATIBLE TRUE)
  if(PACKAGE_FIND_VERSION VERSION_EQUAL PACKAGE_VERSION)
    set(PACKAGE_VERSION_EXACT TRUE)
  endif()
endif()

if(CMAKE_SIZEOF_VOID_P AND NOT CMAKE_SIZEOF_VOID_P STREQUAL "$pointerSize")
  set(PACKAGE_VERSION "`${PACKAGE_VERSION} ($(8 * $pointerSize)-bit)")
  set(PACKAGE_VERSION_UNSUITABLE TRUE)
endif()
"@

$runtimeNote = switch ($layout.Os) {
    'linux' {
        @"
A program linked to the shared library finds it through an rpath (``-Wl,-rpath,<prefix>/lib``;
CMake sets one for what it builds in its build tree), through ``LD_LIBRARY_PATH``, or in a system
library folder (copy ``lib/$libFile`` and its ``$($layout.Soname)`` link there, then run
``ldconfig``). The SONAME is ``$($layout.Soname)``: before 1.0 a minor release may change the ABI.
"@
    }
    'osx' {
        @"
A program linked to the shared library finds it through an rpath (``-Wl,-rpath,<prefix>/lib``;
CMake sets one for what it builds in its build tree); its install name is ``$($layout.Soname)``.
"@
    }
    'win' { 'Put `bin/pmp_mail.dll` beside your program or on PATH; link `lib/pmp_mail.dll.lib`.' }
}
$glibcNote = if ($glibc) { "`nThe shared library needs glibc $($glibc.version) or later, and so does a program linked with the static one." } else { '' }
$files['readme'] = @"
# pmp-mail $version C SDK ($($layout.RuntimeIdentifier))

Send mail through Microsoft Graph with an Entra ID app registration (OAuth2 client credentials,
the ``Mail.Send`` application permission) from C: JSON documents in and out, one thread-safe
client handle. The API, the documents and the error model are described in ``include/pmp_mail.h``
and in the project's ``docs/contracts.md``.

This folder is an install prefix; it works wherever it is unpacked.

    include/pmp_mail.h                  the header (PMP_VERSION_* say which version it is)
    lib/                                the shared library ($libFile) and the static one
    lib/pkgconfig/pmp-mail.pc           for pkg-config
    lib/cmake/pmp-mail/                 for CMake: find_package(pmp-mail)

## pkg-config

    export PKG_CONFIG_PATH=/opt/$top/lib/pkgconfig
    cc app.c `$(pkg-config --cflags --libs pmp-mail) -Wl,-rpath,`$(pkg-config --variable=libdir pmp-mail) -o app

``pkg-config --static --libs pmp-mail`` adds what the static library needs (Libs.private).

## CMake

    find_package(pmp-mail $major.$minor CONFIG REQUIRED)      # cmake -DCMAKE_PREFIX_PATH=/opt/$top
    target_link_libraries(app PRIVATE pmp-mail::pmp-mail)

``pmp-mail::pmp-mail`` is the shared library; ``-DPMP_MAIL_STATIC=ON`` makes it the static one
(``pmp-mail::shared`` and ``pmp-mail::static`` are always there).

## At run time

$runtimeNote$glibcNote
``pmp_version()`` returns the version of the library loaded; compare it with
``PMP_VERSION_STRING`` to check that the header and the library agree.

## Licence

MIT: see LICENSE.
"@

# --- the tarball ---
$epoch = if ($env:SOURCE_DATE_EPOCH) { [long]$env:SOURCE_DATE_EPOCH } else {
    $commitTime = & git -C $repo log -1 --format=%ct 2>$null
    if ($LASTEXITCODE -eq 0 -and $commitTime) { [long]$commitTime } else { [DateTimeOffset]::UtcNow.ToUnixTimeSeconds() }
}
$mtime = [DateTimeOffset]::FromUnixTimeSeconds($epoch)
$modeFile = [System.IO.UnixFileMode]'UserRead, UserWrite, GroupRead, OtherRead'
$modeExecutable = $modeFile -bor [System.IO.UnixFileMode]'UserExecute, GroupExecute, OtherExecute'

# Text files: UTF-8, LF line ends whatever the platform, one final newline.
foreach ($role in @($files.Keys)) {
    if ($files[$role] -is [string]) {
        $files[$role] = [System.Text.UTF8Encoding]::new($false).GetBytes(($files[$role] -replace "`r`n", "`n").TrimEnd("`n") + "`n")
    }
}
$files['shared'] = [System.IO.File]::ReadAllBytes($sharedPath)
$files['static'] = [System.IO.File]::ReadAllBytes($staticPath)
if ($layout.Os -eq 'win') {
    if (-not (Test-Path -LiteralPath $importPath)) { throw "$importPath (the import library) is missing" }
    $files['import'] = [System.IO.File]::ReadAllBytes($importPath)
}

New-Item -ItemType Directory -Force -Path $OutputDirectory | Out-Null
$tarball = Join-Path $OutputDirectory $layout.FileName
$partial = "$tarball.partial"
$stream = [System.IO.File]::Create($partial)
try {
    $gzip = [System.IO.Compression.GZipStream]::new($stream, [System.IO.Compression.CompressionLevel]::SmallestSize, $true)
    $writer = [System.Formats.Tar.TarWriter]::new($gzip, [System.Formats.Tar.TarEntryFormat]::Ustar, $true)
    try {
        $all = @([pscustomobject]@{ Path = ''; Kind = 'Directory'; Role = $null; Target = $null }) + $layout.Entries
        foreach ($e in $all) {
            $name = if ($e.Path) { "$top/$($e.Path)" } else { $top }
            switch ($e.Kind) {
                'Directory' {
                    $tar = [System.Formats.Tar.UstarTarEntry]::new([System.Formats.Tar.TarEntryType]::Directory, "$name/")
                    $tar.Mode = $modeExecutable
                }
                'SymbolicLink' {
                    $tar = [System.Formats.Tar.UstarTarEntry]::new([System.Formats.Tar.TarEntryType]::SymbolicLink, $name)
                    $tar.LinkName = $e.Target
                    $tar.Mode = [System.IO.UnixFileMode]0x1FF   # lrwxrwxrwx, as tar shows links
                }
                'File' {
                    $content = $files[$e.Role]
                    if ($null -eq $content) { throw "no content for $($e.Path) ($($e.Role))" }
                    $tar = [System.Formats.Tar.UstarTarEntry]::new([System.Formats.Tar.TarEntryType]::RegularFile, $name)
                    $tar.Mode = if ($e.Role -eq 'shared') { $modeExecutable } else { $modeFile }
                    $tar.DataStream = [System.IO.MemoryStream]::new([byte[]]$content, $false)
                }
            }
            $tar.ModificationTime = $mtime
            $tar.Uid = 0
            $tar.Gid = 0
            $writer.WriteEntry($tar)
        }
    }
    finally {
        $writer.Dispose()
        $gzip.Dispose()
    }
}
finally {
    $stream.Dispose()
}
Move-Item -LiteralPath $partial -Destination $tarball -Force

$hash = (Get-FileHash -LiteralPath $tarball -Algorithm SHA256).Hash.ToLowerInvariant()
Write-Host ''
Write-Host "$tarball" -ForegroundColor Green
Write-Host "  $(Format-Size (Get-Item -LiteralPath $tarball).Length), sha256 $hash"
foreach ($e in $layout.Entries) {
    $detail = switch ($e.Kind) {
        'Directory' { '' }
        'SymbolicLink' { "-> $($e.Target)" }
        'File' { '{0:N0} bytes' -f $files[$e.Role].Length }
    }
    Write-Host ("  {0,-48} {1}" -f "$top/$($e.Path)$(if ($e.Kind -eq 'Directory') { '/' })", $detail)
}

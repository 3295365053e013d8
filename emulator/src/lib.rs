//! A local Entra ID + Microsoft Graph mail emulator (work in progress).
